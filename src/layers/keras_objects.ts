/**
 * Initializers, regularizers and constraints given as Keras and tf.layers give them: an
 * instance, an identifier ('glorotUniform', Keras's 'glorot_uniform') or a serialized
 * {className, config}. Resolved through tfjs-core's serialization registry, where
 * tfjs-layers registers its classes (tfjs-layers keeps its own resolvers internal).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {Constraint} from '@tensorflow/tfjs-layers/dist/constraints';
import type {Initializer} from '@tensorflow/tfjs-layers/dist/initializers';
import type {Regularizer} from '@tensorflow/tfjs-layers/dist/regularizers';

type Kind = 'initializer' | 'regularizer' | 'constraint';

/** The base class of each kind, read off a public instance (tfjs-layers exports no base classes). */
const BASES: Record<Kind, abstract new (...args: never[]) => unknown> = {
  initializer: Object.getPrototypeOf(tfl.initializers.zeros().constructor),
  regularizer: Object.getPrototypeOf(tfl.regularizers.l2().constructor),
  constraint: Object.getPrototypeOf(tfl.constraints.nonNeg().constructor),
};

/** Keras's regularizer classes that tfjs-layers folds into L1L2. */
const KERAS_REGULARIZERS: Record<string, (config: tf.serialization.ConfigDict) => tf.serialization.ConfigDict> = {
  l1: config => ({l1: config.l1 ?? 0.01, l2: 0}),
  l2: config => ({l1: 0, l2: config.l2 ?? 0.01}),
};

const normalize = (name: string) => name.replace(/_/g, '').toLowerCase();

export type KerasObject<T> = T | string | tf.serialization.ConfigDict | null | undefined;

/** The instance `given` stands for, or null for null/undefined; throws naming `what`. */
function resolve<T>(given: KerasObject<T>, kind: Kind, what: string): T | null {
  if (given == null) return null;
  if (given instanceof BASES[kind]) return given as T;
  const isConfig = typeof given === 'object' && typeof (given as tf.serialization.ConfigDict).className === 'string';
  if (typeof given !== 'string' && !isConfig) {
    throw new Error(`${what} must be a ${kind}, its name or its config, got ${typeof given}`);
  }
  const serialized = given as tf.serialization.ConfigDict;
  const name = typeof given === 'string' ? given : serialized.className as string;
  let config = (typeof given === 'string' ? {} : serialized.config ?? {}) as tf.serialization.ConfigDict;
  let key = normalize(name);
  if (kind === 'regularizer' && key in KERAS_REGULARIZERS) {
    config = KERAS_REGULARIZERS[key](config);
    key = 'l1l2';
  }
  const registry = tf.serialization.SerializationMap.getMap().classNameMap;
  const entry = Object.entries(registry).find(([className]) => normalize(className) === key)?.[1];
  const made = entry?.[1](entry[0], config);
  if (!(made instanceof BASES[kind])) throw new Error(`${what}: unknown ${kind} '${name}'`);
  return made as T;
}

export const resolveInitializer = (given: KerasObject<Initializer>, what: string) =>
    resolve<Initializer>(given, 'initializer', what);
export const resolveRegularizer = (given: KerasObject<Regularizer>, what: string) =>
    resolve<Regularizer>(given, 'regularizer', what);
export const resolveConstraint = (given: KerasObject<Constraint>, what: string) =>
    resolve<Constraint>(given, 'constraint', what);

/** {className, config}, as tf.layers serializes these objects; null for none. */
export function serializeObject(object: tf.serialization.Serializable | null): tf.serialization.ConfigDict | null {
  return object == null ? null : {className: object.getClassName(), config: object.getConfig()};
}
