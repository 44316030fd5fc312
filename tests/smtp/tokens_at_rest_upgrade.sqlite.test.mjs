// An older SQLite database whose outbox kept accept tokens in clear (schema 1) is scrubbed by
// the migration: queued emails go out with new tokens, a link delivered before the upgrade keeps
// working, and neither the database file nor its WAL holds an old token afterwards. SQLite only:
// the PostgreSQL store never had that schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, makeTempDir } from '../support/service.mjs';
import { MAIL_TIMEOUT_MS, count, waitFor } from '../support/assertions.mjs';
import { parseMail, acceptLink, tokenOf } from '../support/smtp.mjs';
import { peersOfThisFile } from '../support/file_peers.mjs';

const { start, sink } = peersOfThisFile();

// The bytes of the database file, its WAL and its shared-memory index, as they are now.
function databaseFiles(dir) {
  return ['invited.db', 'invited.db-wal', 'invited.db-shm']
    .map((name) => join(dir, name))
    .filter((path) => existsSync(path))
    .map((path) => ({ path, bytes: readFileSync(path) }));
}

function assertNotIn(files, tokens, when) {
  for (const { path, bytes } of files) {
    for (const token of tokens) {
      assert.equal(bytes.indexOf(Buffer.from(token, 'latin1')), -1, `a token in clear in ${path} (${when})`);
    }
  }
}

const pageStatus = async (service, token) => (await service.fetch(`/invites/accept?token=${token}`)).status;

test('sqlite: upgrading a database whose outbox kept tokens in clear: the migration erases them; queued emails go out with new tokens; a delivered link keeps working', async () => {
  // A schema-1 database as an older invited left it: one email sent (its token stored as a hash
  // only), and QUEUED emails still waiting with their tokens in the outbox rows.
  const QUEUED = 40;
  const dir = makeTempDir();
  const db = join(dir, 'invited.db');
  const schema1 = readFileSync(new URL('../../src/store/sqlite/migrations/0001_initial.sql', import.meta.url), 'utf8');
  const hash = (token) => `X'${createHash('sha256').update(token).digest('hex')}'`;
  const blob = () => `X'${randomBytes(16).toString('hex')}'`;
  const newToken = (tag) => `${tag}${randomBytes(32).toString('base64url')}`;
  const now = Math.floor(Date.now() / 1000);
  const sentToken = newToken('sent');
  const queued = Array.from({ length: QUEUED }, (_, i) => ({ address: `queued${i}@example.com`, token: newToken('queued') }));
  const rows = [{ address: 'sent@example.com', token: sentToken, sent: true }, ...queued];
  const statements = rows.map(({ address, token, sent }, i) => `
INSERT INTO invite_batches(pk, id, org_pk, email, token_hash, created_at, expires_at, delivery)
  VALUES (${i + 1}, ${blob()}, 1, '${address}', ${hash(token)}, ${now}, ${now + 86400}, ${sent ? 1 : 0});
INSERT INTO invites(id, org_pk, batch_pk, email_key, target_kind, target_pk, role, created_at, expires_at)
  VALUES (${blob()}, 1, ${i + 1}, '${address}', 1, 1, 1, ${now}, ${now + 86400});
INSERT INTO outbox_emails(message_id, batch_pk, to_address, token, status, attempts, next_attempt_ms, created_at, sent_at)
  VALUES (${blob()}, ${i + 1}, '${address}', ${sent ? 'NULL' : `'${token}'`}, ${sent ? 1 : 0}, ${sent ? 1 : 0}, ${now * 1000}, ${now}, ${sent ? now : 'NULL'});`);
  execFileSync('sqlite3', [db], {
    input: `${schema1}
PRAGMA user_version = 1;
INSERT INTO organizations(pk, id, name, created_at) VALUES (1, ${blob()}, 'Acme', ${now});
INSERT INTO websites(pk, id, org_pk, url, name, created_at) VALUES (1, ${blob()}, 1, 'https://old.acme.example/', 'Old site', ${now});
${statements.join('\n')}
`,
  });
  const before = readFileSync(db);
  assert.ok(queued.every(({ token }) => before.indexOf(Buffer.from(token)) >= 0), 'the old layout keeps the tokens in clear');

  const migrated = runCommand(dir, ['migrate']);
  assert.ok(migrated.applied >= 1, JSON.stringify(migrated));
  const queuedTokens = queued.map((q) => q.token);
  assertNotIn(databaseFiles(dir), queuedTokens, 'after the migration');

  const smtp = await sink();
  const service = await start({ dir, smtpUrl: smtp.url });
  await smtp.waitForMessages(QUEUED);
  const first = tokenOf(acceptLink(await parseMail(smtp.messagesTo(queued[0].address)[0].raw)));
  assert.ok(!queuedTokens.includes(first), 'a new token');
  assert.equal(await pageStatus(service, first), 200);
  assert.equal(await pageStatus(service, sentToken), 200, 'the link of the email sent before the upgrade still works');
  const accepted = await service.api('POST', '/api/v1/invitations/accept', { body: { token: first } });
  assert.equal(accepted.status, 200, accepted.text);
  await waitFor(() => count(service, 'SELECT COUNT(*) FROM outbox_emails WHERE status = 0') === 0, { timeoutMs: MAIL_TIMEOUT_MS, what: 'the outbox to drain' });
  assertNotIn(databaseFiles(dir), [...queuedTokens, first, sentToken], 'after the queued emails were sent');
});
