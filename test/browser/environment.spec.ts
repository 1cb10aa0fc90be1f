import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

describe('browser environment', () => {
  it('runs on the webgl backend with WebGL 2 and float32 render targets', () => {
    expect(tf.getBackend()).to.equal('webgl');
    expect(tf.env().getNumber('WEBGL_VERSION')).to.equal(2);
    expect(tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED')).to.equal(true);
  });
});
