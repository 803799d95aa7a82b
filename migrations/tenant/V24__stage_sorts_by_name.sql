-- A contact list sorted by stage orders each stage's contacts by name
-- (`Builtin::then`), so the filter's index `contacts_by_stage (stage,
-- name_key, id)` serves it and `(stage, id)` goes: one index entry less
-- for every contact created.

DROP INDEX contacts_sort_stage;
