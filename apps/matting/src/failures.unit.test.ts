import assert from 'node:assert/strict';
import { RetryableError, UnsupportedImageError } from '@mesh/contracts';
import { classifyInferenceError, isOutOfMemory } from './failures.js';

describe('matting failure classification', () => {
  // Texts as onnxruntime (CPU arena, CUDA provider), the C++ runtime and libvips word them.
  const outOfMemory = [
    "Non-zero status code returned while running Conv node. Name:'/stage1/Conv' Status Message: " +
      '/onnxruntime/core/framework/bfc_arena.cc:359 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, ' +
      'onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 268435456',
    'std::bad_alloc',
    'CUDA failure 2: out of memory ; GPU=0 ; hostname=gpu1 ; file=cuda_allocator.cc ; line=47 ; expr=cudaMalloc((void**)&p, size);',
    'CUDA out of memory. Tried to allocate 64.00 MiB',
    'CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED ; GPU=0',
    'CUDNN failure 2: CUDNN_STATUS_ALLOC_FAILED',
    'vips_malloc: out of memory --- size == 1200MB',
  ];

  for (const text of outOfMemory) {
    it(`retries an allocation failure: ${text.slice(-48)}`, () => {
      assert.ok(isOutOfMemory(new Error(text)));
      const err = classifyInferenceError(new Error(text));
      assert.ok(err instanceof RetryableError);
      assert.match(err.message, /^out of memory during inference \(will retry\): /);
    });
  }

  it('finds an allocation failure in the cause of a wrapping error', () => {
    const wrapped = new Error('inference failed', { cause: new Error('std::bad_alloc') });
    assert.ok(isOutOfMemory(wrapped));
  });

  it('retries any other run failure as "inference failed", since the input is never at fault', () => {
    const err = classifyInferenceError(
      new Error("Non-zero status code returned while running Resize node. Name:'/Resize_3' Status Message: CUDNN error"),
    );
    assert.ok(err instanceof RetryableError);
    assert.match(err.message, /^inference failed: Non-zero status code/);
    assert.ok(!isOutOfMemory(new Error('Got invalid dimensions for input: input')));
  });

  it('passes errors that are already classified through unchanged', () => {
    const permanent = new UnsupportedImageError('cannot decode image: x');
    assert.equal(classifyInferenceError(permanent), permanent);
    const retry = new RetryableError('later');
    assert.equal(classifyInferenceError(retry), retry);
  });
});
