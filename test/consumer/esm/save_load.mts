import * as tf from '@tensorflow/tfjs';
import {mkdir, readFile, writeFile} from 'node:fs/promises';
// Registers the package's layers for deserialization: import it before tf.loadLayersModel.
import {MultiHeadAttention} from 'tfjs-attention/layers';

const input = tf.input({shape: [16, 32]});
const attended = new MultiHeadAttention({numHeads: 4, keyDim: 8}).apply([input, input]) as tf.SymbolicTensor;
const model = tf.model({inputs: input, outputs: attended});

// Save: the artifacts as JSON, the weights as raw bytes.
await mkdir('model', {recursive: true});
await model.save(tf.io.withSaveHandler(async ({weightData, ...artifacts}) => {
  await writeFile('model/model.json', JSON.stringify(artifacts));
  await writeFile('model/weights.bin', new Uint8Array(tf.io.CompositeArrayBuffer.join(weightData ?? [])));
  return {modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts)};
}));

// Load.
const artifacts = JSON.parse(await readFile('model/model.json', 'utf8'));
const weights = await readFile('model/weights.bin');
const loaded = await tf.loadLayersModel(tf.io.fromMemory({...artifacts, weightData: new Uint8Array(weights).buffer}));

const x = tf.randomNormal([2, 16, 32]);
const difference = tf.sub(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor).abs().max();
console.log('saved and loaded models differ by', difference.dataSync()[0]);  // 0
