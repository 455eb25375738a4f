-- A central database as the code before per-module migrations made it (schema_migrations at version 1),
-- dumped with sqlite3's iterdump. Terminal hall-01's token is in tests/data/central_v1.token.
BEGIN TRANSACTION;
CREATE TABLE events (
	id VARCHAR(36) NOT NULL, 
	terminal_id VARCHAR(64) NOT NULL, 
	seq BIGINT NOT NULL, 
	type VARCHAR(64) NOT NULL, 
	occurred_at VARCHAR(64) NOT NULL, 
	schema INTEGER NOT NULL, 
	payload TEXT NOT NULL, 
	body_hash VARCHAR(64) NOT NULL, 
	stored_at VARCHAR(40) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_events_terminal_seq UNIQUE (terminal_id, seq)
);
INSERT INTO "events" VALUES('00000000-0000-0000-0000-000000000001','hall-01',1,'ticket.issued','2025-03-01T08:00:00+00:00',1,'{"n":1}','aab36ebf554690c1abc531ca05a8fac7ba856e1e1ec3ffb0afdc0365efcb9e59','2026-12-03T09:09:57.717464+00:00');
INSERT INTO "events" VALUES('00000000-0000-0000-0000-000000000002','hall-01',2,'ticket.issued','2025-03-01T08:00:00+00:00',1,'{"n":2}','cd92379ed57f4be0af59abd195c3a2385a217dfd3c2d7a1cfeb6d21574189925','2026-12-03T09:09:57.717464+00:00');
INSERT INTO "events" VALUES('00000000-0000-0000-0000-000000000004','hall-01',4,'ticket.issued','2025-03-01T08:00:00+00:00',1,'{"n":4}','d143af1d70e3d7d2f465a3bc5b89d78905c358f533e607961b852cf35aa72d12','2026-12-03T09:09:57.717464+00:00');
CREATE TABLE heartbeats (
	terminal_id VARCHAR(64) NOT NULL, 
	at VARCHAR(64) NOT NULL, 
	received_at VARCHAR(40) NOT NULL, 
	devices TEXT NOT NULL, 
	outbox_pending BIGINT NOT NULL, 
	last_push_at VARCHAR(64), 
	PRIMARY KEY (terminal_id)
);
INSERT INTO "heartbeats" VALUES('hall-01','2025-03-01T08:00:00+00:00','2026-12-03T09:09:57.725625+00:00','{}',0,NULL);
CREATE TABLE reference (
	site VARCHAR(64) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	"key" VARCHAR(200) NOT NULL, 
	cursor BIGINT NOT NULL, 
	op VARCHAR(8) NOT NULL, 
	data TEXT, 
	changed_at VARCHAR(40) NOT NULL, 
	PRIMARY KEY (site, kind, "key")
);
INSERT INTO "reference" VALUES('site-a','card','C0001',1,'upsert','{"card":"C0001","status":"ok"}','2026-12-03T09:09:57.722575+00:00');
CREATE TABLE schema_migrations (
	version INTEGER NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	applied_at VARCHAR(40) NOT NULL, 
	PRIMARY KEY (version)
);
INSERT INTO "schema_migrations" VALUES(1,'terminals, events, seq gaps, heartbeats, reference change feed','2026-12-03T09:09:57.709663+00:00');
CREATE TABLE seq_gaps (
	terminal_id VARCHAR(64) NOT NULL, 
	first BIGINT NOT NULL, 
	last BIGINT NOT NULL, 
	PRIMARY KEY (terminal_id, first)
);
INSERT INTO "seq_gaps" VALUES('hall-01',3,3);
CREATE TABLE sites (
	site VARCHAR(64) NOT NULL, 
	last_cursor BIGINT NOT NULL, 
	PRIMARY KEY (site)
);
INSERT INTO "sites" VALUES('site-a',1);
CREATE TABLE terminals (
	terminal_id VARCHAR(64) NOT NULL, 
	role VARCHAR(32) NOT NULL, 
	site VARCHAR(64) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	enrolled_at VARCHAR(40) NOT NULL, 
	revoked_at VARCHAR(40), 
	revoked_reason VARCHAR(200), 
	highest_seq BIGINT NOT NULL, 
	PRIMARY KEY (terminal_id)
);
INSERT INTO "terminals" VALUES('hall-01','hall','site-a','c483edfb20fb88de0c13718d1ba3c61fcef4764282bebc8087d5a96c6e01d672','2026-12-03T09:09:57.711539+00:00',NULL,NULL,4);
INSERT INTO "terminals" VALUES('canteen-01','canteen','site-b','4f7d3ca1bbdd51ccee720af141be656de5b3f4118ab1aedb00d7c92e8654cb7f','2026-12-03T09:09:57.713526+00:00','2026-12-03T09:09:57.715474+00:00','retired',0);
CREATE UNIQUE INDEX ix_reference_site_cursor ON reference (site, cursor);
COMMIT;
