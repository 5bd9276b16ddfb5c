/**
 * The architecture's import rules (shared/docs/architecture.md), checked in CI by
 * `npm run lint:deps`: imports flow downward,
 *   cli -> job -> (src/train, src/config, export, models) -> (src/latephase, src/nn) -> (src/backend, src/onnx)
 * and nothing imports the api/ facade except tests and benchmarks.
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'cycles make the layering meaningless', from: {}, to: { circular: true } },
    {
      name: 'core-stays-core',
      severity: 'error',
      comment: 'src/ is the toolkit core: it never imports the model zoo, the exporter, the CLI or the facade',
      from: { path: '^src/' },
      to: { path: '^(models|import|export|job|cli|api|test|bench)/' },
    },
    {
      name: 'layers-know-no-trainer',
      severity: 'error',
      comment: 'src/nn and src/latephase compute; they never import training, data, evaluation or file IO',
      from: { path: '^src/(nn|latephase)/' },
      to: { path: '^src/(train|data|eval|io)/' },
    },
    {
      name: 'layers-know-no-late-phase',
      severity: 'error',
      comment: "a plain layer reads Weights; which weights are late-phase is src/latephase's business",
      from: { path: '^src/nn/' },
      to: { path: '^src/latephase/' },
    },
    {
      name: 'backend-is-lowest',
      severity: 'error',
      comment: 'src/backend chooses and fills the tfjs backend; it knows nothing above it',
      from: { path: '^src/(backend|onnx)/' },
      to: { path: '^src/(nn|latephase|train|data|eval|io)/' },
    },
    {
      name: 'kernels-behind-the-facade',
      severity: 'error',
      comment:
        "layers, late-phase kinds and the trainer ask src/backend/operations for an operation; which kernel runs (native, onnxruntime, wasm override, stock) is the backend's business",
      from: { path: '^src/(nn|latephase|train|data|eval)/' },
      to: { path: '^src/backend/(native|ort|wasm|kernels/|convolutionEngine)' },
    },
    {
      name: 'data-is-data',
      severity: 'error',
      from: { path: '^src/data/' },
      to: { path: '^src/(latephase|train|eval|backend)/' },
    },
    {
      name: 'exporter-reads-plain-models',
      severity: 'error',
      comment: 'export/ never imports the trainer, the model zoo or the CLI',
      from: { path: '^export/' },
      to: { path: '^(src/train|models|import|job|cli|api)/' },
    },
    {
      name: 'models-are-assembly',
      severity: 'error',
      comment: 'models/ assembles src/nn and src/latephase; it never trains or exports',
      from: { path: '^models/' },
      to: { path: '^(export|src/train|job|cli|api)/' },
    },
    {
      name: 'importers-build-models',
      severity: 'error',
      comment: 'import/ builds models from files, as models/ builds them from code; it never trains or exports',
      from: { path: '^import/' },
      to: { path: '^(export|src/train|job|cli|api|models)/' },
    },
    {
      name: 'facade-is-for-users',
      severity: 'error',
      comment: 'api/ re-exports; the code it re-exports never imports it back',
      from: { path: '^(src|models|import|export|job|cli)/' },
      to: { path: '^api/' },
    },
    {
      name: 'jobs-below-the-cli',
      severity: 'error',
      comment: 'job/ composes training, export and bundle; it never imports the command line',
      from: { path: '^job/' },
      to: { path: '^cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
