-- The sort keys of a record's owner, company or assignee are written by the
-- insert itself (V21: contacts, companies, deals; now tasks and the demo
-- deals too). The AFTER INSERT triggers were left as a safety net for
-- inserts that did not carry them, but a trigger on a table costs every
-- insert into it, even one whose WHEN never holds: a statement that may
-- write more than one row and may fail on a constraint runs in a statement
-- transaction, and SQLite copies every page it touches (the row's, each
-- index's) into the statement journal first. A contact's insert alone in
-- its transaction took 37-40 us with these two triggers, 22-24 us without.
-- `people_key_on_insert` stays: a person's row is written rarely, and it
-- fills the keys of records written before that person's name was known
-- here (V20).
DROP TRIGGER contacts_company_key_on_insert;
DROP TRIGGER contacts_owner_key_on_insert;
DROP TRIGGER companies_owner_key_on_insert;
DROP TRIGGER deals_company_key_on_insert;
DROP TRIGGER deals_owner_key_on_insert;
DROP TRIGGER tasks_assignee_key_on_insert;

-- Likewise the times a link row copies from its note, task or activity for
-- the timeline's index (V10): the link's insert writes them. The triggers
-- that follow a change of those times stay (they fire only on that change).
DROP TRIGGER note_links_take_time;
DROP TRIGGER task_links_take_time;
DROP TRIGGER activity_links_take_time;
