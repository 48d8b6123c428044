/** Builds the schema from a fresh builder: each domain registers its types and root fields. */
import type { GraphQLSchema } from 'graphql';
import { createBuilder } from '../builder.js';
import { registerCommon } from './common.js';
import { registerFeedStatus } from './feed-status.js';
import { registerHistory } from './history.js';
import { registerInstrument } from './instrument.js';
import { registerTick } from './tick.js';

export function buildSchema(): GraphQLSchema {
  const builder = createBuilder();
  const common = registerCommon(builder);
  registerFeedStatus(builder, common);
  registerInstrument(builder, common);
  registerTick(builder, common);
  registerHistory(builder, common);
  return builder.toSchema();
}
