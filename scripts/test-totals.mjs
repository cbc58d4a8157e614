// Reads vitest's JSON report and prints the closing totals line CI looks for: "N passed, N failed".
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest-results.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`test-totals: cannot read ${file}: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// Test files that failed to load (no test ran) count as failures too, so a broken import cannot pass silently.
// numFailedTestSuites is not used: it also counts every describe block around a failed test.
const unloaded = (report.testResults ?? []).filter((file) => file.status === 'failed' && (file.assertionResults ?? []).length === 0).length;
const failed = (report.numFailedTests ?? 0) + unloaded;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
