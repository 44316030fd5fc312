// What the SMTP tests read of the outbox straight from the database, on either store.
import { uuidSql } from './assertions.mjs';

// Every queued email in queue order: its Message-ID as the header carries it (the service's
// --public-url host is 127.0.0.1 in tests), its status (0 queued, 1 sent, 2 failed), the
// attempts counted (one per claim) and whether a claim holds it now.
export const outboxRows = (service) =>
  service
    .sql(`SELECT ${uuidSql('message_id')}, status, attempts, CAST(claimed_until IS NOT NULL AS INTEGER) FROM outbox_emails ORDER BY pk`)
    .map(([messageId, status, attempts, claimed]) => ({
      messageId: `<${messageId}@127.0.0.1>`, status: Number(status), attempts: Number(attempts), claimed: claimed === '1',
    }));

// Whether every email-mode request's delivery is `sent`.
export const allSent = (service) => service.sql('SELECT delivery FROM invite_batches').every(([d]) => d === '1');
