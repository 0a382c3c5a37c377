--
-- The outbox's SQL side: publish() writes only when its transaction
-- commits (not on rollback, not from a rolled-back savepoint), numbers a
-- transaction's messages in call order, refuses malformed messages at the
-- call, and the dead-letter functions. No worker serves this database, so
-- every row stays pending; delivery is tested against RabbitMQ by
-- tests/integration/outbox_*.sh.
--
CREATE EXTENSION warden;
\i sql/include/helpers.psql

-- A rollback publishes nothing; a commit publishes everything in call order.
BEGIN;
SELECT warden.publish('orders', 'order.1', '{"n": 0}') IS NOT NULL AS returns_id;
ROLLBACK;
SELECT count(*) AS after_rollback FROM warden.outbox;

BEGIN;
SELECT warden.publish('orders', 'order.1', '{"n": 1}', '{"tenant": "acme"}',
                      '00000000-0000-0000-0000-000000000001') AS message_id;
SELECT count(*) AS visible_before_commit FROM warden.outbox;
SAVEPOINT a;
SELECT warden.publish('orders', 'order.1', '{"n": "rolled back"}') IS NOT NULL;
ROLLBACK TO a;
SAVEPOINT b;
SELECT warden.publish('orders', 'order.2', '{"n": 2}') IS NOT NULL;
SAVEPOINT c;
SELECT warden.publish('orders', 'order.1', '{"n": 3}') IS NOT NULL;
RELEASE c;
RELEASE b;
SELECT warden.publish('', 'jobs', '{"n": 4}', NULL) IS NOT NULL;
COMMIT;
SELECT payload->>'n' AS n, exchange, routing_key, headers, state, attempts,
       key_hash >= 0 AS key_hash_ok, committed_at >= published_at AS committed_after_call
  FROM warden.outbox ORDER BY id;
SELECT count(DISTINCT key_hash) AS keys,
       (SELECT key_hash FROM warden.outbox WHERE payload->>'n' = '1') =
       (SELECT key_hash FROM warden.outbox WHERE payload->>'n' = '3') AS same_key_same_hash
  FROM warden.outbox;

-- A failing transaction publishes nothing, even after publish() returned.
BEGIN;
SELECT warden.publish('orders', 'order.9', '{"n": 9}') IS NOT NULL;
SELECT 1 / 0;
COMMIT;
SELECT count(*) AS after_failed_transaction FROM warden.outbox WHERE payload->>'n' = '9';

-- Malformed messages are refused at the call, never at COMMIT.
SELECT pg_temp.try($$SELECT warden.publish('bad name', 'k', '{}')$$);
SELECT pg_temp.try($$SELECT warden.publish('x/y', 'k', '{}')$$);
SELECT pg_temp.try(format('SELECT warden.publish(%L, %L, %L)', repeat('e', 256), 'k', '{}'));
SELECT pg_temp.try(format('SELECT warden.publish(%L, %L, %L)', 'e', repeat('k', 256), '{}'));
SELECT pg_temp.try($$SELECT warden.publish(NULL, 'k', '{}')$$);
SELECT pg_temp.try($$SELECT warden.publish('e', NULL, '{}')$$);
SELECT pg_temp.try($$SELECT warden.publish('e', 'k', NULL)$$);
SELECT pg_temp.try($$SELECT warden.publish('e', 'k', '{}', '{}', NULL)$$);
SELECT pg_temp.try($$SELECT warden.publish('e', 'k', '{}', '[1, 2]')$$);
SELECT pg_temp.try($$SELECT warden.publish('e', 'k', '{}', '"text"')$$);
SELECT pg_temp.try(format('SELECT warden.publish(%L, %L, %L, %L)', 'e', 'k', '{}',
                          repeat('{"a": ', 17) || '1' || repeat('}', 17)));
SELECT pg_temp.try(format('SELECT warden.publish(%L, %L, %L, %L)', 'e', 'k', '{}',
                          jsonb_build_object(repeat('h', 256), 1)));
SELECT pg_temp.try(format('SELECT warden.publish(%L, %L, %L, %L)', 'e', 'k', '{}',
                          repeat('{"a": ', 16) || '1' || repeat('}', 16)));
BEGIN READ ONLY;
SELECT pg_temp.try($$SELECT warden.publish('e', 'k', '{}')$$);
ROLLBACK;
DELETE FROM warden.outbox WHERE exchange = 'e';

-- Dead letters: retry and discard; unknown ids are an error.
UPDATE warden.outbox SET state = 'dead', attempts = 10, last_error = 'exchange "orders" does not exist'
 WHERE message_id = '00000000-0000-0000-0000-000000000001';
SELECT message_id, exchange, attempts, last_error FROM warden.outbox_dead;
SELECT warden.outbox_retry('00000000-0000-0000-0000-000000000001') AS revived;
SELECT state, attempts, next_attempt_at FROM warden.outbox
 WHERE message_id = '00000000-0000-0000-0000-000000000001';
SELECT pg_temp.try($$SELECT warden.outbox_retry('00000000-0000-0000-0000-000000000001')$$);
UPDATE warden.outbox SET state = 'dead' WHERE routing_key IN ('order.2', 'jobs');
SELECT warden.outbox_retry_all() AS revived_all, warden.outbox_retry_all() AS then_none;
UPDATE warden.outbox SET state = 'dead' WHERE routing_key = 'jobs';
SELECT pg_temp.try($$SELECT warden.outbox_discard('00000000-0000-0000-0000-0000000000ff')$$);
SELECT warden.outbox_discard(message_id) AS discarded FROM warden.outbox WHERE routing_key = 'jobs';
SELECT event, detail ? 'messages' AS counted FROM warden.audit_log
 WHERE event LIKE 'outbox%' ORDER BY id;

-- Stats: backlog and counts of this database; no workers serve it.
SELECT pending, oldest_pending_age >= '0'::interval AS has_age, retrying, delivered, dead,
       delivered_total, failed_total, workers
  FROM warden.outbox_stats();
SELECT count(*) AS workers_here FROM warden.outbox_workers();

-- Only warden_publisher (and warden_admin) may publish.
CREATE ROLE outbox_app LOGIN;
CREATE ROLE outbox_stranger LOGIN;
GRANT warden_publisher TO outbox_app;
SET ROLE outbox_stranger;
SELECT pg_temp.try($$SELECT warden.publish('orders', 'order.7', '{}')$$);
SELECT pg_temp.try($$SELECT * FROM warden.outbox$$);
SELECT pg_temp.try($$SELECT * FROM warden.outbox_stats()$$);
SET ROLE outbox_app;
SELECT warden.publish('orders', 'order.7', '{"by": "app"}') IS NOT NULL AS app_may_publish;
SELECT pg_temp.try($$SELECT * FROM warden.outbox$$);
SELECT pg_temp.try($$SHOW warden.amqp_url$$);
RESET ROLE;
SELECT count(*) AS written_for_app FROM warden.outbox WHERE payload->>'by' = 'app';
DROP ROLE outbox_app;
DROP ROLE outbox_stranger;

-- The settings (the broker URL holds a password: only superusers read it).
SELECT name, context FROM pg_settings
 WHERE name LIKE 'warden.amqp%' OR name LIKE 'warden.outbox%' ORDER BY name;

SELECT pg_temp.settle() AS settled;
DROP EXTENSION warden;
