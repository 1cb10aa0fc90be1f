/**
 * The base of this package's layers: hands `addWeight` to the weight-owning building blocks,
 * and disposes the constant tensors (index tables, masks) a layer caches.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {DisposeResult} from '@tensorflow/tfjs-layers/dist/engine/topology';
import type {AddWeight} from './weights';

/** The package name under which the layers register for serialization. */
export const SERIALIZATION_PACKAGE = 'tfjsAttention';

/** A layer's cache of constant tensors: the tensor named `name`, made by `make` on first use. */
export type ConstantOf = (name: string, make: () => tf.Tensor) => tf.Tensor;

export abstract class AttentionPackageLayer extends tfl.layers.Layer {
  private readonly constants = new Map<string, tf.Tensor>();

  protected readonly addWeightTo: AddWeight = (name, shape, initializer) =>
      this.addWeight(name, shape, 'float32', initializer);

  /** A constant made once per layer and kept until `dispose`. */
  protected readonly constantOf: ConstantOf = (name, make) => {
    let tensor = this.constants.get(name);
    if (tensor == null) {
      tensor = tf.keep(make());
      this.constants.set(name, tensor);
    }
    return tensor;
  };

  override dispose(): DisposeResult {
    const result = super.dispose();
    if (result.refCountAfterDispose === 0) {
      this.constants.forEach(t => t.dispose());
      this.constants.clear();
    }
    return result;
  }
}

/** Registers a layer class under this package's name, for `tf.loadLayersModel`. */
export function registerLayer(cls: tf.serialization.SerializableConstructor<tf.serialization.Serializable>): void {
  tf.serialization.registerClass(cls, SERIALIZATION_PACKAGE);
}
