-- The database roles of the complaints platform: one per service that keeps
-- tables (intake keeps none and has no role), each with data rights
-- (SELECT, INSERT, UPDATE, DELETE) on the tables it owns (ARCHITECTURE.md,
-- "Services") and nothing else: no DDL, no other service's tables. The timeline (`case_events`) is append-only even for the
-- case service. The outbox and its leases are shared by the three services
-- that write and relay messages.
--
-- Run by the migration Job after the migrations, as the role that owns the
-- tables (it needs CREATEROLE, or run this once as a superuser), with
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f db-roles.sql
-- It is idempotent: run it after every release's migrations, so that a new
-- table gets its grants. The roles cannot log in: the operator creates one
-- login role per service as a member (deploy/k8s/README.md), e.g.
--   CREATE ROLE notification_app LOGIN PASSWORD '...' IN ROLE complaints_notification;

\set ON_ERROR_STOP on

DO $$
DECLARE
  service text;
BEGIN
  FOREACH service IN ARRAY ARRAY['case', 'escalation', 'notification'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'complaints_' || service) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', 'complaints_' || service);
    END IF;
  END LOOP;
END
$$;

-- Nobody but the tables' owner creates objects in the schema (already so on
-- Postgres 15 and later; a warning, not an error, where this role does not
-- own the schema).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Start from nothing on every table, so that a right taken away here is
-- taken away on the next run too.
REVOKE ALL ON ALL TABLES IN SCHEMA public
  FROM complaints_case, complaints_escalation, complaints_notification;

-- Earlier releases had a role for intake (its idempotency records, now kept
-- by the case service with each case): it keeps no right at all. Drop it,
-- and its login role, once no release that used it runs
-- (deploy/k8s/README.md, "Database roles").
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'complaints_intake') THEN
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM complaints_intake;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM complaints_intake;
    REVOKE USAGE ON SCHEMA public FROM complaints_intake;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public
  TO complaints_case, complaints_escalation, complaints_notification;
-- Sequences of the tables' id columns (the outbox, the timeline's feed).
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public
  TO complaints_case, complaints_escalation, complaints_notification;
-- Which migrations are applied, for a service that checks the schema at start.
GRANT SELECT ON seaql_migrations
  TO complaints_case, complaints_escalation, complaints_notification;

-- case: the system of record.
GRANT SELECT, INSERT, UPDATE, DELETE ON
  cases, complainants, correspondence, evidence, register_sequences, policies,
  idempotency_records
  TO complaints_case;
GRANT SELECT, INSERT ON case_events TO complaints_case;

-- escalation: the deadline queue and what it needs to fire.
GRANT SELECT, INSERT, UPDATE, DELETE ON
  deadlines, case_assignees, deadline_extensions, clock_versions
  TO complaints_escalation;

-- notification: the delivery log.
GRANT SELECT, INSERT, UPDATE, DELETE ON notifications TO complaints_notification;

-- The outbox: each service queues its own topics and relays them.
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox, outbox_leases
  TO complaints_case, complaints_escalation, complaints_notification;
