// The Karma entry: setup first, then the specs, in one bundle.
import './setup';
import './environment.spec';
import './webgl.spec';
import './webgl_kernels.spec';
import './webgpu.spec';
