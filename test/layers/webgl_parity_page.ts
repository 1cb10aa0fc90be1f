/** Runs in headless Chromium for webgl_parity.spec.ts: the timm fixture's logits on the webgl backend. */
import * as tf from '@tensorflow/tfjs';
import {forceComposedAttention} from '../../examples/force_composed';
import '../../src/index';
import {
  loadTimmSwinWeights, SwinBlockBase, SwinConfig, swinTransformer, swinTransformerV2,
} from '../../src/layers/index';

export interface ParityRun {
  backend: string;
  logits: number[];
  /** The attention implementation of each block. */
  implementations: string[];
}

declare global {
  interface Window {
    runParity(
        config: SwinConfig, v2: boolean, weightsBase64: string, input: number[], inputShape: number[],
        composed: boolean): Promise<ParityRun>;
  }
}

window.runParity = async (config, v2, weightsBase64, input, inputShape, composed) => {
  if (!(await tf.setBackend('webgl'))) throw new Error('the webgl backend is not available');
  const restore = composed ? forceComposedAttention('webgl') : () => {};
  try {
    const model = (v2 ? swinTransformerV2 : swinTransformer)(config);
    loadTimmSwinWeights(model, Uint8Array.from(atob(weightsBase64), c => c.charCodeAt(0)));
    const x = tf.tensor(input, inputShape);
    const logits = model.predict(x) as tf.Tensor;
    const result = {
      backend: tf.getBackend(),
      logits: Array.from(await logits.data()),
      implementations: model.layers.filter((l): l is SwinBlockBase => l instanceof SwinBlockBase)
                           .map(block => block.attentionDispatch(inputShape[0]).implementation),
    };
    tf.dispose([x, logits]);
    model.dispose();
    return result;
  } finally {
    restore();
  }
};
