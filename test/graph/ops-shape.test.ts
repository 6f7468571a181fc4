import { SHAPE_CASES } from './ops-cases-shape.js';
import { describeCases } from './ops-harness.js';

describeCases('data-movement ops on ORT CPU vs reference', SHAPE_CASES);
