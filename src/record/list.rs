//! Lists of any kind: the simple parameters (`q`, `updated_since`, the
//! kind's own like `stage=`), the filter language, sorts, keyset pages.

use std::collections::BTreeMap;

use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use serde::Serialize;

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::idset;
use crate::record::catalogue::Catalogue;
use crate::record::custom::{self, CustomField};
use crate::record::filter::{Context, Filter};
use crate::record::sort::{self, Range, Sorts};
use crate::record::{RecordKind, store};
use crate::search::index::Matches;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;
/// The longest `q` a list (or search) takes.
pub const MAX_Q: usize = 200;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A whole, short list (fields, tags, views): everything at once, in the
/// same `items` shape as paged lists.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Count {
    pub count: i64,
}

/// The query string of a list, as sent.
pub type Params = BTreeMap<String, String>;

const COMMON: &[&str] = &["limit", "cursor", "sort", "q", "filter", "updated_since"];

/// Who is asking, for what a list means relative to them: `me` (their user
/// id, an API key's owner) and "today" (their account's time zone, if set).
#[derive(Clone, Debug, Default)]
pub struct Viewer {
    pub id: Option<String>,
    pub time_zone: Option<String>,
}

/// What a list's search box found (`record::find`): its best matches
/// (ids, and their ranks in the kind's sort by name, `store::rank_sql`, when
/// the index has them all), and how many records of the kind the search
/// engine holds.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub matches: Matches,
    pub of_kind: usize,
}

impl Found {
    fn len(&self) -> usize {
        self.matches.uuids.len() + self.matches.others.len()
    }
}

/// Ids as a JSON array of strings, for `json_each`.
fn ids_json(uuids: impl Iterator<Item = u128>, others: &[String]) -> AppResult<String> {
    let mut out = String::from("[");
    let mut buf = uuid::Uuid::encode_buffer();
    for u in uuids {
        if out.len() > 1 {
            out.push(',');
        }
        out.push('"');
        out.push_str(uuid::Uuid::from_u128(u).hyphenated().encode_lower(&mut buf));
        out.push('"');
    }
    for o in others {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(o).map_err(|e| AppError::Internal(e.into()))?);
    }
    out.push(']');
    Ok(out)
}

/// The found records as a list reads them.
struct Among {
    found: Found,
    /// The same ids as a set, when there are so many that a page is
    /// cheaper found by walking the list in its order (`page_as`).
    set: Option<idset::Ids>,
    /// The ids by rank, when the list is sorted by name (`page_by_rank`).
    ranked: Option<Vec<(u64, u128)>>,
}

/// How a page reads the found records (all of them by id, when not said).
#[derive(Clone, Copy)]
enum Read<'a> {
    /// By id: these (a JSON array).
    ById(&'a str),
    /// Walking the list, keeping the ids of the thread's set (`idset`).
    Walk,
}

/// The most work a page may spend walking its list looking for found records
/// before it reads them by id instead, in SQLite steps (five an index entry,
/// measured): some 40,000 entries, about 4 ms. The walk pays when matches are many and
/// spread along the order; a word that sorts together ("Smith" by name) is
/// found faster by id.
const WALK_BUDGET: u64 = 200_000;

/// Pages' worth of matches a search sorted by name reads (`page_by_rank`):
/// room for other filters to leave some out.
const RANKED_PAGES: usize = 4;

/// A list request, checked: conditions and their arguments, sorts, paging.
pub struct ListQuery {
    conditions: Vec<String>,
    args: Vec<Sql>,
    /// The records a search found: the list reads these rows.
    found: Option<Among>,
    pub sorts: Sorts,
    pub cursor: Option<String>,
    pub limit: usize,
}

pub fn limit(l: Option<&String>) -> AppResult<usize> {
    match l {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(AppError::field("limit", format!("use 1 to {MAX_LIMIT}"))),
        },
    }
}

impl ListQuery {
    /// Checks a list's parameters against the kind's fields (`fields` are
    /// its live custom fields). `me` is who asks.
    pub fn new<K: RecordKind>(
        params: &Params,
        fields: &[CustomField],
        me: Viewer,
    ) -> AppResult<ListQuery> {
        ListQuery::with_found::<K>(params, fields, me, None)
    }

    /// As `new`, with what the search engine found for `q` (`record::find`):
    /// the list is then those records, filtered and sorted. Without it, `q`
    /// is a prefix match on the kind's key columns.
    pub fn with_found<K: RecordKind>(
        params: &Params,
        fields: &[CustomField],
        me: Viewer,
        found: Option<&Found>,
    ) -> AppResult<ListQuery> {
        let cat = Catalogue {
            builtins: K::fields(),
            custom: fields,
        };
        // An empty `q` searches for nothing, as a search box does; any other
        // empty parameter is a mistake, not a default.
        if let Some((k, _)) = params
            .iter()
            .find(|(k, v)| v.is_empty() && k.as_str() != "q")
        {
            let shown: String = k.chars().take(60).collect();
            return Err(AppError::field(
                shown,
                "give a value or leave the parameter out",
            ));
        }
        for key in params.keys() {
            let known = COMMON.contains(&key.as_str())
                || K::SHORTCUTS.contains(&key.as_str())
                || K::fields().iter().any(|b| b.param == Some(key.as_str()));
            if !known {
                let shown: String = key.chars().take(60).collect();
                return Err(AppError::field(shown, "unknown parameter"));
            }
        }
        let mut q = ListQuery {
            conditions: vec!["t.deleted_at IS NULL".into()],
            args: Vec::new(),
            found: None,
            sorts: Sorts::parse(
                params
                    .get("sort")
                    .map(String::as_str)
                    .or(Some(K::DEFAULT_SORT)),
                &cat,
            )?,
            cursor: params.get("cursor").cloned(),
            limit: limit(params.get("limit"))?,
        };
        for b in K::fields() {
            if let (Some(name), Some(sql)) = (b.param, b.sql)
                && let Some(v) = params.get(name)
            {
                if !b.options.is_empty() && !b.options.contains(&v.as_str()) {
                    return Err(AppError::field(
                        name,
                        format!("use one of {}", b.options.join(", ")),
                    ));
                }
                // `owner=me`, `assignee=me`: the caller.
                let v = match (b.ty, v.as_str(), &me.id) {
                    (crate::record::FieldType::User, "me", Some(me)) => me.clone(),
                    _ => v.clone(),
                };
                q.conditions.push(format!("{sql} = ?"));
                q.args.push(Sql::Text(v));
            }
        }
        for name in K::SHORTCUTS {
            if let Some(v) = params.get(*name) {
                let (sql, args) = K::shortcut(name, v, params, &me)?;
                q.conditions.push(sql);
                q.args.extend(args);
            }
        }
        if let Some(s) = params.get("updated_since") {
            let stamp = clock::parse_rfc3339(s).ok_or_else(|| {
                AppError::field(
                    "updated_since",
                    "use an RFC 3339 time, e.g. 2026-01-31T09:00:00Z",
                )
            })?;
            q.conditions.push("t.updated_at >= ?".into());
            q.args.push(Sql::Text(stamp));
        }
        if let Some(text) = params.get("q") {
            if text.chars().count() > MAX_Q {
                return Err(AppError::field(
                    "q",
                    format!("use at most {MAX_Q} characters"),
                ));
            }
            match found {
                Some(found) => {
                    // Sorted by name alone: the rank the index keeps is of that sort.
                    let by_rank = q.sorts.len() == 1
                        && crate::record::store::rank_sql::<K>()
                            .is_some_and(|sql| q.sorts.0[0].field.sql == sql);
                    q.among(found, by_rank)?
                }
                None => q.prefix(text, K::QUICK_SEARCH),
            }
        }
        if let Some(f) = params.get("filter") {
            let ctx = Context {
                me: me.id,
                now: clock::now(),
            };
            let (sql, args) = Filter::parse(f)?.compile(&cat, &ctx)?;
            q.conditions.push(sql);
            q.args.extend(args);
        }
        Ok(q)
    }

    /// Prefix match on lower-cased key columns: `sql` uses `{lo}`/`{hi}` for the
    /// bounds of the range `[q, q + U+10FFFF)`, which any index can serve.
    fn prefix(&mut self, q: &str, sql: &str) {
        let q = q.trim().to_lowercase();
        if q.is_empty() {
            return;
        }
        let hi = format!("{q}\u{10FFFF}");
        let mut cond = String::new();
        let mut rest = sql;
        while let Some(pos) = rest.find('{') {
            cond.push_str(&rest[..pos]);
            let end = rest[pos..]
                .find('}')
                .map(|e| pos + e + 1)
                .unwrap_or(rest.len());
            match &rest[pos..end] {
                "{lo}" => self.args.push(Sql::Text(q.clone())),
                _ => self.args.push(Sql::Text(hi.clone())),
            }
            cond.push('?');
            rest = &rest[end..];
        }
        cond.push_str(rest);
        self.conditions.push(format!("({cond})"));
    }

    /// Only these records. SQLite reads them by id and sorts them (a few
    /// thousand at most): `from` drives the read from the ids (a CROSS JOIN
    /// keeps that order), so neither a rare word nor another filter's index
    /// makes it walk the whole table. When they are many, a page may instead
    /// walk the list in its order and keep the found rows: reading by id
    /// costs a row per match, walking about `limit × of_kind / matches`
    /// index entries of a tenth of that each.
    fn among(&mut self, found: &Found, by_rank: bool) -> AppResult<()> {
        let n = found.len();
        let walk = n.saturating_mul(n).saturating_mul(10) >= (self.limit + 1) * found.of_kind;
        let set = walk.then(|| {
            std::sync::Arc::new(idset::IdSet {
                uuids: found.matches.uuids.iter().copied().collect(),
                others: found.matches.others.iter().cloned().collect(),
            })
        });
        let ranked = match (&found.matches.ranks, by_rank) {
            (Some(ranks), true) => {
                let mut r: Vec<(u64, u128)> = ranks
                    .iter()
                    .copied()
                    .zip(found.matches.uuids.iter().copied())
                    .collect();
                r.sort_unstable();
                Some(r)
            }
            _ => None,
        };
        self.found = Some(Among {
            found: found.clone(),
            set,
            ranked,
        });
        Ok(())
    }

    /// The `FROM` of the kind's table aliased `t` (after the ids a search
    /// found, read by id, if any), the conditions, and all arguments in
    /// placeholder order; `read` says how found records are read.
    fn source_and_args<K: RecordKind>(
        &self,
        read: Option<Read>,
    ) -> AppResult<(String, String, Vec<Sql>)> {
        let Some(among) = &self.found else {
            return Ok((
                format!("{} t", K::TABLE),
                self.where_sql(),
                self.args.clone(),
            ));
        };
        let json = match read {
            Some(Read::Walk) => {
                return Ok((
                    format!("{} t", K::TABLE),
                    format!("{} AND harmonia_in_set(t.id)", self.where_sql()),
                    self.args.clone(),
                ));
            }
            Some(Read::ById(json)) => json.to_string(),
            None => ids_json(
                among.found.matches.uuids.iter().copied(),
                &among.found.matches.others,
            )?,
        };
        let mut args = vec![Sql::Text(json)];
        args.extend(self.args.iter().cloned());
        Ok((
            format!("json_each(?) found CROSS JOIN {} t", K::TABLE),
            format!("{} AND t.id = found.value", self.where_sql()),
            args,
        ))
    }

    /// Narrows the list further (e.g. one company's contacts).
    pub fn and(&mut self, sql: &str, arg: Sql) {
        self.conditions.push(sql.to_string());
        self.args.push(arg);
    }

    /// Narrows the list by a condition without arguments (SQL over `t`).
    pub fn and_sql(&mut self, sql: &str) {
        self.conditions.push(sql.to_string());
    }

    /// The conditions (SQL over `t`) and their arguments, for kinds that
    /// aggregate over a list (a board's sums).
    pub fn conditions(&self) -> (String, &[Sql]) {
        (self.where_sql(), &self.args)
    }

    fn where_sql(&self) -> String {
        self.conditions.join(" AND ")
    }

    pub fn count<K: RecordKind>(&self, conn: &Connection) -> AppResult<i64> {
        let (from, filter, args) = self.source_and_args::<K>(None)?;
        let sql = format!("SELECT count(*) FROM {from} WHERE {filter}");
        Ok(conn.query_row(&sql, rusqlite::params_from_iter(args.iter()), |r| r.get(0))?)
    }

    /// The ids of every record of the list, in its order (a bulk action on
    /// a whole filtered list), at most `max`.
    pub fn ids<K: RecordKind>(&self, conn: &Connection, max: usize) -> AppResult<Vec<String>> {
        let (source, filter, base_args) = self.source_and_args::<K>(None)?;
        let ranges = self.sorts.ranges(None)?;
        let columns = self.sorts.page_columns();
        let (arms, args) = arms(&ranges, &source, &filter, &base_args, &columns, max);
        let sql = format!(
            "SELECT p.kid FROM ({arms}) p ORDER BY {} LIMIT {max}",
            self.sorts.order_by_page()
        );
        let mut stmt = conn.prepare(&sql)?;
        let ids = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// One page, decorated as the API shows records.
    pub fn page<K: RecordKind>(self, conn: &Connection) -> AppResult<Page<K::Record>> {
        let columns = format!("{}, t.custom", K::COLUMNS);
        let mut page = self.page_as::<K, _>(
            conn,
            &columns,
            K::FROM,
            K::COLUMN_COUNT + 1,
            store::read_row::<K>,
        )?;
        store::decorate::<K>(conn, &mut page.items)?;
        Ok(page)
    }

    /// One page read as `read` makes it from `columns` (there are `count`)
    /// over `from` (which names the kind's table `t`): a view narrower than
    /// the whole record, such as a board's cards. The page's keys come from
    /// the kind's table alone (so a sort no index serves sorts rowids and
    /// keys, not whole rows), then its rows join them by rowid — one
    /// statement, one read of each row.
    pub fn page_as<K: RecordKind, T>(
        mut self,
        conn: &Connection,
        columns: &str,
        from: &str,
        count: usize,
        read: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> AppResult<Page<T>> {
        // The page's keys: from the start of the list, or from one or more
        // index ranges after the cursor (`Sorts::after_ranges`), each at
        // most a page long.
        let cursor = self.cursor.take();
        let ranges = self.sorts.ranges(cursor.as_deref())?;
        let shape = Shape {
            columns,
            from,
            count,
        };
        if let Some(page) =
            self.page_by_rank::<K, T>(conn, cursor.as_deref(), &ranges, &shape, &read)?
        {
            return Ok(page);
        }
        if let Some(set) = self.found.as_ref().and_then(|f| f.set.clone()) {
            let walked = idset::with_set(set, || {
                idset::within(conn, WALK_BUDGET, || {
                    self.read_page::<K, T>(conn, Some(Read::Walk), &ranges, &shape, &read)
                })
            });
            match walked? {
                Ok(page) => return Ok(page),
                // Over budget: read the found rows by id.
                Err(AppError::Internal(e))
                    if e.downcast_ref::<rusqlite::Error>()
                        .is_some_and(idset::is_interrupted) => {}
                Err(e) => return Err(e),
            }
        }
        self.read_page::<K, T>(conn, None, &ranges, &shape, &read)
    }

    /// A page of a search sorted by name, from the matches whose rank (the
    /// first bytes of their sort key, kept by the search index) puts them
    /// first after the cursor: a few pages' worth, with every match tied
    /// with the last of them, read by id and sorted by SQL. Any match left
    /// out has a greater rank, so it sorts after all of them; the page is
    /// right when SQL found a row beyond it among them, or when none were
    /// left out. Otherwise (other filters left too few) None: the caller
    /// reads every match.
    fn page_by_rank<K: RecordKind, T>(
        &self,
        conn: &Connection,
        cursor: Option<&str>,
        ranges: &[Range],
        shape: &Shape,
        read: &impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> AppResult<Option<Page<T>>> {
        let Some(ranked) = self.found.as_ref().and_then(|f| f.ranked.as_ref()) else {
            return Ok(None);
        };
        let desc = self.sorts.0.first().is_some_and(|k| k.desc);
        let from = match cursor {
            None => None,
            Some(c) => match sort::decode(c, 1)?.0.first() {
                Some(Sql::Text(key)) => Some(crate::search::rank(key)),
                _ => return Ok(None),
            },
        };
        let mut rest: Vec<&(u64, u128)> = ranked
            .iter()
            .filter(|(r, _)| match (from, desc) {
                (None, _) => true,
                (Some(f), false) => *r >= f,
                (Some(f), true) => *r <= f,
            })
            .collect();
        if desc {
            rest.reverse();
        }
        let mut take = rest.len().min(RANKED_PAGES * (self.limit + 1));
        while take > 0 && take < rest.len() && rest[take].0 == rest[take - 1].0 {
            take += 1;
        }
        let json = ids_json(rest[..take].iter().map(|(_, id)| *id), &[])?;
        let page = self.read_page::<K, T>(conn, Some(Read::ById(&json)), ranges, shape, read)?;
        Ok((take == rest.len() || page.next_cursor.is_some()).then_some(page))
    }

    fn read_page<K: RecordKind, T>(
        &self,
        conn: &Connection,
        how: Option<Read>,
        ranges: &[Range],
        shape: &Shape,
        read: &impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> AppResult<Page<T>> {
        let (source, filter, base_args) = self.source_and_args::<K>(how)?;
        let page_columns = self.sorts.page_columns();
        let keys = self.sorts.len();
        let count = shape.count;
        let keys_out: String = (0..keys).map(|i| format!("p.k{i}, ")).collect();
        let page_order = self.sorts.order_by_page();
        let mut items = Vec::with_capacity(self.limit + 1);
        let mut last: Option<(Vec<Sql>, String)> = None;
        let mut more = false;
        // Range after range, in list order, until the page (and one row
        // more) is full: a first page of a sort by job title reads the
        // values and never the empty ones.
        'ranges: for range in ranges {
            let (arm, args) = arms(
                std::slice::from_ref(range),
                &source,
                &filter,
                &base_args,
                &page_columns,
                self.limit + 1,
            );
            let sql = format!(
                "SELECT {columns}, {keys_out}p.kid
                 FROM ({arm}) p,
                      {from}
                 WHERE t.rowid = p.rid
                 ORDER BY {page_order}",
                columns = shape.columns,
                from = shape.from,
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
            while let Some(r) = rows.next()? {
                if items.len() == self.limit {
                    more = true;
                    break 'ranges;
                }
                items.push(read(r)?);
                let values = (0..keys)
                    .map(|i| r.get::<_, Sql>(count + i))
                    .collect::<Result<Vec<_>, _>>()?;
                last = Some((values, r.get(count + keys)?));
            }
        }
        Ok(Page {
            items,
            next_cursor: if more {
                last.map(|(v, id)| sort::encode(&v, &id))
            } else {
                None
            },
        })
    }
}

/// The ranges of a list as one `UNION ALL` of walks, each at most `n`
/// rows of `columns` over `source` where `filter` and the range's condition
/// hold; and every argument in placeholder order.
fn arms(
    ranges: &[Range],
    source: &str,
    filter: &str,
    base_args: &[Sql],
    columns: &str,
    n: usize,
) -> (String, Vec<Sql>) {
    let mut args = Vec::new();
    let arms: Vec<String> = ranges
        .iter()
        .map(|r| {
            args.extend(base_args.iter().cloned());
            args.extend(r.args.iter().cloned());
            let filter = match r.cond.is_empty() {
                true => filter.to_string(),
                false => format!("{filter} AND {}", r.cond),
            };
            format!(
                "SELECT * FROM (SELECT {columns} FROM {source} WHERE {filter}
                 ORDER BY {} LIMIT {n})",
                r.order
            )
        })
        .collect();
    (arms.join(" UNION ALL "), args)
}

/// What a page reads of each row: `count` columns over `from`.
struct Shape<'a> {
    columns: &'a str,
    from: &'a str,
    count: usize,
}

/// The live custom fields of a kind (what a list may name).
pub fn fields_of<K: RecordKind>(conn: &Connection) -> AppResult<Vec<CustomField>> {
    custom::of_kind(conn, K::KIND)
}
