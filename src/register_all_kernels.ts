/**
 * Registers the fused kernels of every backend this package implements in JavaScript, and
 * the gradient. TF.js keys kernels by backend name, so registering for a backend that is
 * not loaded is harmless; the kernels take the backend from the call.
 */
import * as tf from '@tensorflow/tfjs-core';
import {cpuKernels} from '../kernels/cpu/index';
import {webglKernels} from '../kernels/webgl/index';
import {webgpuKernels} from '../kernels/webgpu/index';
import {registerFusedBackend} from './dispatch';
import {attentionGradConfig} from './gradient';

registerFusedBackend(cpuKernels);
registerFusedBackend(webglKernels);
registerFusedBackend(webgpuKernels);
tf.registerGradient(attentionGradConfig);
