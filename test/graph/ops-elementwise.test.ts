import { ELEMENTWISE_CASES } from './ops-cases-elementwise.js';
import { describeCases } from './ops-harness.js';

describeCases('elementwise ops on ORT CPU vs reference', ELEMENTWISE_CASES);
