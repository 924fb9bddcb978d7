// Quickstart: the generated push, run with the stored key, then the job followed to the end.
import { ApiError, run } from './api.js';
import { mountKeyForm } from './key.js';
import './site.js';

const FINAL = new Set(['SUCCEEDED', 'PARTIALLY_SUCCEEDED', 'FAILED']);
const pushBody = JSON.parse(document.getElementById('push-body').textContent);
const pushResult = document.getElementById('push-result');
const jobResult = document.getElementById('job-result');

mountKeyForm(document.getElementById('key-form'));

function text(node, value) {
  node.textContent = value;
}

function counters(job) {
  return Object.entries(job.counters)
    .map(([name, value]) => `${name} ${value}`)
    .join(', ');
}

async function follow(id) {
  for (;;) {
    const { job } = await run('WatchJob', { id });
    text(jobResult, `Job ${job.id}: ${job.status} (${counters(job)})`);
    if (FINAL.has(job.status)) {
      const problems = job.errors.nodes.map((error) => `${error.path}: ${error.code} — ${error.message}`);
      if (problems.length) jobResult.textContent += `. Errors: ${problems.join('; ')}`;
      jobResult.dataset.status = job.status;
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

document.getElementById('push-now').addEventListener('click', async () => {
  text(pushResult, 'Pushing…');
  text(jobResult, '');
  try {
    const { ingestProducts } = await run('PushProducts', pushBody.variables);
    if (ingestProducts.errors.length) {
      text(pushResult, ingestProducts.errors.map((e) => `${e.code}: ${e.message}`).join('; '));
      return;
    }
    const { job, replayed } = ingestProducts;
    text(pushResult, `Accepted: job ${job.id} (${job.status})${replayed ? ' — replayed: this idempotency key was used before, so this is the first job' : ''}.`);
    pushResult.dataset.jobId = job.id;
    await follow(job.id);
  } catch (error) {
    text(pushResult, error instanceof ApiError ? error.message : `Failed: ${error}`);
  }
});
