/**
 * A tf.io handler that saves a model to, and loads it from, a folder in Node: model.json
 * (the topology and weights manifest, as tf.io's browser and http handlers write it) and
 * weights.bin. tfjs-node's `file://` handler does the same but does not install here.
 */
import * as tf from '@tensorflow/tfjs-core';
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

const WEIGHTS_FILE = 'weights.bin';

export function fileSystemHandler(folder: string): tf.io.IOHandler {
  const modelPath = join(folder, 'model.json');
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('fileSystemHandler: binary model topologies are not supported');
      }
      const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []);
      const manifest: tf.io.WeightsManifestConfig = [{paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? []}];
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest: manifest,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
      };
      if (artifacts.trainingConfig != null) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata != null) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      mkdirSync(folder, {recursive: true});
      writeFileSync(join(folder, WEIGHTS_FILE), new Uint8Array(weights));
      writeFileSync(modelPath, JSON.stringify(modelJson));
      return {modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts)};
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const modelJson = JSON.parse(readFileSync(modelPath, 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(modelJson, async entries => {
        const specs = entries.flatMap(group => group.weights);
        const buffers = entries.flatMap(group => group.paths.map(path => {
          const bytes = readFileSync(join(folder, path));
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        }));
        return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}
