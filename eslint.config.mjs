// npm run lint: typescript-eslint's recommended rules plus the project's style (lines of
// at most 120 characters, single quotes, semicolons); C++ and CUDA are clang-format's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {ignores: ['**/dist/', 'build/', '.tmp/', 'node_modules/', 'examples/output/', '.device/', '**/*.d.ts']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {
        console: 'readonly', process: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly',
        clearTimeout: 'readonly', performance: 'readonly', window: 'readonly', document: 'readonly',
        navigator: 'readonly', __dirname: 'readonly', require: 'readonly', module: 'writable',
      },
    },
    rules: {
      'max-len': ['error', {code: 120, ignoreUrls: true, ignoreRegExpLiterals: true}],
      'quotes': ['error', 'single', {avoidEscape: true, allowTemplateLiterals: true}],
      'semi': ['error', 'always'],
      'eqeqeq': ['error', 'smart'],
      'no-var': 'error',
      'prefer-const': 'error',
      '@typescript-eslint/no-unused-vars':
          ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'}],
    },
  },
  // chai's property assertions (expect(x).to.be.true) are expressions.
  {files: ['test/**'], rules: {'@typescript-eslint/no-unused-expressions': 'off'}},
  {
    files: ['**/*.cjs'],
    languageOptions: {sourceType: 'commonjs'},
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },
);
