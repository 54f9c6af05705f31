import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', 'zero-data/', 'examples/**/dist/']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      'no-restricted-imports': [
        'error',
        {patterns: [{group: ['@rocicorp/zero', '@rocicorp/zero/*'], message: 'src/ never imports @rocicorp/zero'}]},
      ],
    },
  },
  {
    files: ['test/**', 'bench/**', 'examples/**'],
    rules: {'no-restricted-imports': 'off'},
  },
);
