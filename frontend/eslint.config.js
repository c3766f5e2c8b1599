// ESLint for the front end: typescript-eslint's strict, type-checked rules, plus
// the layer boundaries of src/ (each layer imports only the layers below it):
//   wire → model → datafeed → chart → page
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const LAYERS = ['wire', 'model', 'datafeed', 'chart', 'page'];

/** For each layer, a rule forbidding imports of the layers above it (and of lightweight-charts below `chart`). */
const layerBoundaries = LAYERS.map((layer, index) => {
  const above = LAYERS.slice(index + 1);
  const patterns = above.map((upper) => ({
    group: [`../${upper}/*`],
    message: `src/${layer}/ sits below src/${upper}/ and may not import it (order: ${LAYERS.join(' → ')})`,
  }));
  if (index < LAYERS.indexOf('chart')) {
    patterns.push({
      group: ['lightweight-charts'],
      message: 'only src/chart/ and src/page/ draw with lightweight-charts',
    });
  }
  return { files: [`src/${layer}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
});

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'charting_library/'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    rules: {
      // Numbers print the same in any locale; `${count}` is clearer than `${String(count)}`.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `(x) => void promise` and `() => callback()` are the idiom of event handlers here.
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidOperator: true },
      ],
    },
  },
  { files: ['eslint.config.js'], extends: [tseslint.configs.disableTypeChecked] },
  ...layerBoundaries,
);
