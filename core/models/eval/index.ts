// Run one model component on tensors from a file (`lora-studio eval`).
export {
  EVAL_COMPONENTS,
  EVAL_INPUT_NAMES,
  EvalInputError,
  expectedInputs,
  type ComponentConfigs,
  type EvalComponent,
  type EvalTensor,
} from './inputs.js';
export { evalComponent, type EvalLora, type EvalOptions, type EvalResult } from './run.js';
