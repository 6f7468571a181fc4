import { NN_CASES } from './ops-cases-nn.js';
import { describeCases } from './ops-harness.js';

describeCases('compute ops on ORT CPU vs reference', NN_CASES);
