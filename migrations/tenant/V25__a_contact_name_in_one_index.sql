-- A contact's name kept in one index, not three. Every new contact inserts
-- into each of its indexes at a random place (a seek, page splits, a whole
-- page into the WAL), and two of them served next to nothing:
-- `contacts_by_name` (sort_name) and `contacts_by_last` (last_key) were
-- meant for the prefix match of a list's `q` while the search index is
-- rebuilt, but the planner reads that OR of ranges by walking the list's
-- own order and testing each row, with or without them. An equality filter
-- on the name compares `name_key` too (`Builtin::order_is_natural_key`),
-- whose index the lists' name order keeps. Together the two were about a
-- sixth of a create's SQLite time and a fifth of its WAL bytes.
DROP INDEX contacts_by_name;
DROP INDEX contacts_by_last;
