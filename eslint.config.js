// Lint config. The layering rules below are the architecture's guard rails (DESIGN.md):
// core never imports electron/renderer, only core/onnx imports onnxruntime-node, and the
// renderer only imports *types* from core/api.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const onnxOnly = {
  name: 'onnxruntime-node',
  message: 'Bad layering: only core/onnx may import onnxruntime-node.',
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'test-output/**', 'bench-output/**', '.gl/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['core/**/*.ts'],
    ignores: ['core/onnx/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            onnxOnly,
            { name: 'electron', message: 'Bad layering: core never imports electron.' },
          ],
          patterns: [
            {
              group: ['**/electron/**', '**/renderer/**'],
              message: 'Bad layering: core never imports electron/ or renderer/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['core/onnx/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'Bad layering: core never imports electron.' }],
          patterns: [
            {
              group: ['**/electron/**', '**/renderer/**'],
              message: 'Bad layering: core never imports electron/ or renderer/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['electron/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [onnxOnly] }] },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    ignores: ['renderer/vite.config.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/core/**', '!**/core/api', '!**/core/api.js', '!**/core/api.ts'],
              message: 'Bad layering: the renderer may only import types from core/api.ts.',
            },
            {
              group: [
                'node:*',
                'fs',
                'path',
                'electron',
                'onnxruntime-node',
                'better-sqlite3',
                'sharp',
              ],
              message: 'Bad layering: the renderer never imports node modules.',
            },
            {
              group: ['**/core/api', '**/core/api.js', '**/core/api.ts'],
              allowTypeImports: true,
              message: 'Bad layering: import only types from core/api.ts (use `import type`).',
            },
          ],
        },
      ],
    },
  },
);
