// Reverse-mode autodiff over the graph IR: `grad` and the rule table it consults.
export { grad, type GradOptions } from './grad.js';
export { GRAD_RULES } from './rules.js';
export { GradContext, type GradRule } from './context.js';
export { broadcastAxes, unbroadcast, type BroadcastAxes } from './broadcast.js';
