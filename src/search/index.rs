//! One organization's Tantivy index: its schema, the indexer that drains the
//! outbox, full rebuilds, and searching.
//!
//! The index carries, in its commit payload, the *epoch* stored in the
//! organization's `search_state` row. A rebuild starts by writing a new epoch,
//! so an index that is missing, unreadable, or from before the last rebuild
//! started is recognised on open and rebuilt in the background while search
//! keeps answering (with `rebuilding: true`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::OptionalExtension;
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tokio::sync::Notify;

use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::search::{SearchDoc, Sources, capped, source, text};

static REBUILDS: Mutex<()> = Mutex::new(());

const OUTBOX_BATCH: usize = 2_000;
const REBUILD_PAGE: usize = 5_000;
/// Memory for the writer that applies small batches; it exists only while
/// the outbox has rows.
const INCREMENTAL_WRITER_BYTES: usize = 20_000_000;
const REBUILD_WRITER_BYTES: usize = 120_000_000;
/// Records below which a rebuild uses one thread and the small budget.
const SMALL_REBUILD: usize = 50_000;
/// Least time between two index commits: under a stream of writes, batches
/// grow instead of commits (and their fsyncs) piling up; an isolated write is
/// still searchable at once.
pub const MIN_COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// How the incremental writer merges the segments its commits leave.
///
/// Tantivy's default puts every segment under 10,000 documents in one level,
/// beside an index of about that size: at 10,000 contacts every eighth
/// commit of a write stream merged the whole index again (12 % of the
/// server's CPU during a create storm). Leveled by their real size, small
/// segments merge with their like, and a document is rewritten about once
/// per eightfold growth.
fn stream_merge_policy() -> tantivy::indexer::LogMergePolicy {
    let mut policy = tantivy::indexer::LogMergePolicy::default();
    policy.set_min_layer_size(100);
    policy
}

/// Bytes of stored documents compressed together. A hit's title is read
/// from its block, decompressed whole: with Tantivy's 16 KB blocks (about
/// 60 documents) that was a fifth of a short search's CPU at 1,000,000
/// contacts, where hits rarely share a block. Blocks of a few documents
/// cost some compression (the store is a small part of the index).
const DOCSTORE_BLOCK_BYTES: usize = 2_048;

fn settings() -> tantivy::IndexSettings {
    tantivy::IndexSettings {
        docstore_blocksize: DOCSTORE_BLOCK_BYTES,
        ..tantivy::IndexSettings::default()
    }
}

/// A new, empty index in `dir` with this build's schema and settings.
fn create_index(dir: &Path) -> tantivy::Result<Index> {
    Index::builder()
        .schema(schema().0)
        .settings(settings())
        .create_in_dir(dir)
}

/// Whether an index was written the way this build writes them. One with
/// other settings is still searched while it is rebuilt.
fn written_as_now(index: &Index) -> bool {
    index.settings().docstore_blocksize == DOCSTORE_BLOCK_BYTES
}

/// What `TenantSearch::ids` found.
#[derive(Clone, Debug, Default)]
pub struct Matches {
    /// The ids that are UUIDs (as this server writes them), as numbers:
    /// thousands are kept, sorted and hashed without a string each.
    pub uuids: Vec<u128>,
    /// Any other ids.
    pub others: Vec<String>,
    /// How many documents match in all (the ids are at most the cap).
    pub total: usize,
    /// Each of `uuids`' rank, in the same order, when there are no
    /// `others` and every match has one.
    pub ranks: Option<Vec<u64>>,
}

#[derive(Clone, Copy)]
pub struct Fields {
    pub key: Field,
    pub kind: Field,
    pub id: Field,
    /// A record id that is a UUID, as two numbers in columns (see `ids`).
    pub id_hi: Field,
    pub id_lo: Field,
    /// `SearchDoc::rank`, read per match like the id (`ids`).
    pub rank: Field,
    pub title: Field,
    pub subtitle: Field,
    pub snippets: Field,
    pub words: Field,
    pub prefixes: Field,
    pub title_prefixes: Field,
    pub phone: Field,
}

pub(super) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Terms are computed in Rust (search::text); the index only splits on spaces.
    let ws = |opt| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("ws")
                .set_index_option(opt),
        )
    };
    let fields = Fields {
        key: b.add_text_field("key", STRING),
        kind: b.add_text_field("kind", STRING | STORED),
        id: b.add_text_field("id", STORED),
        // A list's search reads thousands of matching ids at once, which
        // loading stored documents one by one can't: a UUID id is also kept
        // as two numeric columns, read in microseconds. (A text column was
        // slower: its dictionary is scanned block by block for every
        // search, megabytes at 200,000 records.)
        id_hi: b.add_u64_field("id_hi", FAST),
        id_lo: b.add_u64_field("id_lo", FAST),
        rank: b.add_u64_field("rank", FAST),
        title: b.add_text_field("title", STORED),
        subtitle: b.add_text_field("subtitle", STORED),
        snippets: b.add_text_field("snippets", STORED),
        words: b.add_text_field("words", ws(IndexRecordOption::WithFreqs)),
        prefixes: b.add_text_field("prefixes", ws(IndexRecordOption::Basic)),
        title_prefixes: b.add_text_field("title_prefixes", ws(IndexRecordOption::Basic)),
        phone: b.add_text_field("phone", ws(IndexRecordOption::Basic)),
    };
    (b.build(), fields)
}

pub(super) fn register_tokenizer(index: &Index) {
    index
        .tokenizers()
        .register("ws", TextAnalyzer::from(WhitespaceTokenizer::default()));
}

fn to_document(f: &Fields, d: &SearchDoc) -> TantivyDocument {
    // Every text's words once (the title's last); the terms below borrow
    // from them.
    let texts: Vec<Vec<String>> = d
        .texts
        .iter()
        .chain([&d.title])
        .map(|t| text::words(t))
        .collect();
    let mut words = BTreeSet::new();
    let mut prefixes = BTreeSet::new();
    for w in texts.iter().flatten() {
        text::prefixes_of(w, &mut prefixes);
        words.insert(w.as_str());
    }
    let mut title_prefixes = BTreeSet::new();
    for w in texts.last().into_iter().flatten() {
        text::prefixes_of(w, &mut title_prefixes);
    }
    let digits: Vec<String> = d.phones.iter().map(|p| text::digits(p)).collect();
    let mut phones = BTreeSet::new();
    for p in &digits {
        text::phone_terms(p, &mut phones);
    }
    let join = |terms: BTreeSet<&str>| {
        let mut out = String::with_capacity(terms.iter().map(|t| t.len() + 1).sum());
        for t in terms {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(t);
        }
        out
    };
    let mut doc = TantivyDocument::default();
    doc.add_text(f.key, key(d.kind, &d.id));
    doc.add_text(f.kind, d.kind);
    doc.add_text(f.id, &d.id);
    if let Some((hi, lo)) = uuid_parts(&d.id) {
        doc.add_u64(f.id_hi, hi);
        doc.add_u64(f.id_lo, lo);
    }
    if let Some(rank) = d.rank {
        doc.add_u64(f.rank, rank);
    }
    doc.add_text(f.title, &d.title);
    doc.add_text(f.subtitle, &d.subtitle);
    doc.add_text(f.snippets, d.snippets.join("\n"));
    doc.add_text(f.words, join(words));
    doc.add_text(f.prefixes, join(prefixes));
    doc.add_text(f.title_prefixes, join(title_prefixes));
    doc.add_text(f.phone, join(phones));
    doc
}

/// An id's two halves when it is a UUID written the way this server writes
/// them (so it reads back the same); other ids are read from the stored
/// document.
fn uuid_parts(id: &str) -> Option<(u64, u64)> {
    let u = uuid::Uuid::try_parse(id).ok()?;
    (u.hyphenated().to_string() == id).then(|| u.as_u64_pair())
}

fn key(kind: &str, id: &str) -> String {
    format!("{kind}:{id}")
}

struct Opened {
    index: Index,
    reader: IndexReader,
}

fn open_index(dir: &Path) -> tantivy::Result<Opened> {
    let index = Index::open_in_dir(dir)?;
    register_tokenizer(&index);
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    Ok(Opened { index, reader })
}

/// What an index looks like from outside, without changing it (`harmonia doctor`).
pub enum IndexHealth {
    Missing,
    Unreadable(String),
    /// Built for another generation of the database, or by an older build
    /// with another schema (rebuilt on next open).
    Stale,
    Current {
        documents: u64,
    },
}

/// Compares the index in `dir` with the database `conn` (its generation stamp).
pub fn inspect(dir: &Path, conn: &rusqlite::Connection) -> IndexHealth {
    if !dir.exists() {
        return IndexHealth::Missing;
    }
    let opened = match open_index(dir) {
        Ok(o) => o,
        Err(e) => return IndexHealth::Unreadable(e.to_string()),
    };
    let expected: String = conn
        .query_row("SELECT epoch FROM search_state", [], |r| r.get(0))
        .optional()
        .ok()
        .flatten()
        .unwrap_or_default();
    let payload = opened.index.load_metas().ok().and_then(|m| m.payload);
    if expected.is_empty()
        || payload.as_deref() != Some(expected.as_str())
        || opened.index.schema() != schema().0
        || !written_as_now(&opened.index)
    {
        return IndexHealth::Stale;
    }
    IndexHealth::Current {
        documents: opened.reader.searcher().num_docs(),
    }
}

fn epoch(db: &Db) -> AppResult<String> {
    db.read_blocking(|c| {
        Ok(
            c.query_row("SELECT epoch FROM search_state", [], |r| r.get(0))
                .optional()?
                .unwrap_or_default(),
        )
    })
}

fn search_err(e: tantivy::TantivyError) -> AppError {
    AppError::Internal(anyhow::anyhow!("search index: {e}"))
}

/// A stored document, as search results need it.
pub struct Stored {
    pub kind: String,
    pub id: String,
    pub title: String,
    pub subtitle: String,
    pub snippets: Vec<String>,
}

pub struct TenantSearch {
    dir: PathBuf,
    sources: Sources,
    fields: Fields,
    opened: Mutex<Option<Opened>>,
    needs_rebuild: AtomicBool,
    notify: Arc<Notify>,
}

impl TenantSearch {
    /// Opens the index next to the database (blocking). Anything wrong with it
    /// only schedules a rebuild; opening never fails.
    pub fn open(dir: PathBuf, db: &Db, sources: Sources) -> TenantSearch {
        let (_, fields) = schema();
        let expected = epoch(db).unwrap_or_default();
        let (opened, fresh) = match open_index(&dir) {
            Ok(o) => {
                let payload = o.index.load_metas().ok().and_then(|m| m.payload);
                let fresh = payload.as_deref() == Some(expected.as_str())
                    && !expected.is_empty()
                    && written_as_now(&o.index);
                // An index written with an older schema is rebuilt too, and
                // not searched meanwhile: its fields are numbered otherwise.
                if o.index.schema() == schema().0 {
                    (Some(o), fresh)
                } else {
                    (None, false)
                }
            }
            Err(e) => {
                if dir.exists() {
                    tracing::warn!(index = %dir.display(), error = %e, "search index unreadable; rebuilding");
                }
                (None, false)
            }
        };
        if !fresh {
            tracing::info!(index = %dir.display(), "search index missing or stale; rebuilding from the database");
        }
        TenantSearch {
            dir,
            sources,
            fields,
            opened: Mutex::new(opened),
            needs_rebuild: AtomicBool::new(!fresh),
            notify: Arc::new(Notify::new()),
        }
    }

    /// A brand-new organization's empty index, already matching its database
    /// (blocking), so that opening it later needs no rebuild.
    pub fn create_empty(dir: &Path, db: &Db) -> AppResult<()> {
        let epoch = crate::clock::new_id();
        std::fs::create_dir_all(dir).map_err(|e| AppError::Internal(e.into()))?;
        let index = create_index(dir).map_err(search_err)?;
        let mut writer: IndexWriter = index
            .writer_with_num_threads(1, INCREMENTAL_WRITER_BYTES)
            .map_err(search_err)?;
        let mut prepared = writer.prepare_commit().map_err(search_err)?;
        prepared.set_payload(&epoch);
        prepared.commit().map_err(search_err)?;
        db.write_now(|c| {
            c.execute("UPDATE search_state SET epoch = ?1", [&epoch])?;
            Ok(())
        })
    }

    /// The kinds of record this index holds.
    pub fn sources(&self) -> Sources {
        self.sources
    }

    pub fn notifier(&self) -> Arc<Notify> {
        self.notify.clone()
    }

    /// Tells the indexer there may be work.
    pub fn poke(&self) {
        self.notify.notify_one();
    }

    pub fn is_rebuilding(&self) -> bool {
        self.needs_rebuild.load(Ordering::Acquire)
    }

    pub fn fields(&self) -> Fields {
        self.fields
    }

    /// Whatever is due (blocking): a rebuild if needed, then the outbox.
    /// Also reloads the reader, so commits made by another writer (the
    /// `reindex` command) become visible even when this one had none.
    pub fn work(&self, db: &Db) -> AppResult<()> {
        if self.needs_rebuild.load(Ordering::Acquire) {
            self.rebuild(db, &|_, _| {})?;
        }
        self.drain(db)?;
        let reader = self
            .opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|o| o.reader.clone());
        if let Some(r) = reader {
            r.reload().map_err(search_err)?;
        }
        Ok(())
    }

    /// Builds a fresh index from the database beside the live one and swaps
    /// it in. `progress(done, total)` is told how far it got.
    pub fn rebuild(&self, db: &Db, progress: &dyn Fn(usize, usize)) -> AppResult<usize> {
        // Each rebuild takes a large writer budget: one at a time, so that
        // many organizations opening after an upgrade cannot exhaust memory.
        let _one_at_a_time = REBUILDS.lock().unwrap_or_else(|p| p.into_inner());
        self.needs_rebuild.store(true, Ordering::Release);
        let new_epoch = crate::clock::new_id();
        let e = new_epoch.clone();
        db.write_blocking(move |c| {
            c.execute("UPDATE search_state SET epoch = ?1", [e])?;
            Ok(())
        })?;
        let sources = self.sources;
        let total: usize = db
            .read_blocking(move |c| sources.iter().map(|s| s.count(c)).sum::<AppResult<usize>>())?;
        let tmp = self.dir.with_extension("rebuild");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| AppError::Internal(e.into()))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| AppError::Internal(e.into()))?;
        let fields = self.fields;
        let index = create_index(&tmp).map_err(search_err)?;
        register_tokenizer(&index);
        // Big organizations get every core and a large budget; small ones the
        // minimum, so a thousand small rebuilds never add up.
        let (threads, budget) = if total > SMALL_REBUILD {
            let cores = std::thread::available_parallelism()
                .map(|n| n.get().min(4))
                .unwrap_or(1);
            (cores, REBUILD_WRITER_BYTES)
        } else {
            (1, INCREMENTAL_WRITER_BYTES)
        };
        let mut writer: IndexWriter = index
            .writer_with_num_threads(threads, budget)
            .map_err(search_err)?;
        let mut done = 0;
        for src in self.sources {
            let mut after = String::new();
            loop {
                let from = after.clone();
                let docs = db.read_blocking(move |c| src.docs_after(c, &from, REBUILD_PAGE))?;
                let Some(last) = docs.last() else { break };
                after = last.id.clone();
                for d in &docs {
                    writer
                        .add_document(to_document(&fields, d))
                        .map_err(search_err)?;
                }
                done += docs.len();
                progress(done, total);
            }
        }
        let mut prepared = writer.prepare_commit().map_err(search_err)?;
        prepared.set_payload(&new_epoch);
        prepared.commit().map_err(search_err)?;
        writer.wait_merging_threads().map_err(search_err)?;
        drop(index);

        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        *opened = None;
        let old = self.dir.with_extension("old");
        let io = |e: std::io::Error| AppError::Internal(e.into());
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io)?;
        }
        if self.dir.exists() {
            std::fs::rename(&self.dir, &old).map_err(io)?;
        }
        std::fs::rename(&tmp, &self.dir).map_err(io)?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io)?;
        }
        *opened = Some(open_index(&self.dir).map_err(search_err)?);
        drop(opened);
        self.needs_rebuild.store(false, Ordering::Release);
        tracing::info!(index = %self.dir.display(), documents = done, "search index rebuilt");
        Ok(done)
    }

    /// Applies the outbox to the index, batch by batch, deleting rows only
    /// after the index committed them. The writer lives only for this call.
    fn drain(&self, db: &Db) -> AppResult<()> {
        let mut writer: Option<IndexWriter> = None;
        let current_epoch = epoch(db)?;
        loop {
            let rows: Vec<(i64, String, String)> = db.read_blocking(|c| {
                let mut stmt = c.prepare_cached(
                    "SELECT seq, kind, id FROM search_outbox ORDER BY seq LIMIT ?1",
                )?;
                let rows = stmt
                    .query_map([OUTBOX_BATCH as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })?;
            let Some(max_seq) = rows.last().map(|r| r.0) else {
                break;
            };
            // A full batch means a backlog: go on at once. A short one means
            // the index has caught up; what was written meanwhile waits for
            // the next round, `MIN_COMMIT_INTERVAL` on, so that a stream of
            // writes makes a few large segments rather than a commit (a new
            // segment, its term dictionaries, later a merge) per handful.
            let caught_up = rows.len() < OUTBOX_BATCH;
            let mut by_kind: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (_, kind, id) in rows {
                by_kind.entry(kind).or_default().insert(id);
            }
            // Cheap clones: searches must not wait while this batch is applied.
            let Some((index, reader)) = self
                .opened
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|o| (o.index.clone(), o.reader.clone()))
            else {
                return Ok(());
            };
            if writer.is_none() {
                let w: IndexWriter = index
                    .writer_with_num_threads(1, INCREMENTAL_WRITER_BYTES)
                    .map_err(search_err)?;
                w.set_merge_policy(Box::new(stream_merge_policy()));
                writer = Some(w);
            }
            let w = writer
                .as_mut()
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no writer")))?;
            for (kind, ids) in by_kind {
                let ids: Vec<String> = ids.into_iter().collect();
                for id in &ids {
                    w.delete_term(Term::from_field_text(self.fields.key, &key(&kind, id)));
                }
                if let Some(src) = source(self.sources, &kind) {
                    let docs = db.read_blocking(move |c| src.docs(c, &ids))?;
                    for d in &docs {
                        w.add_document(to_document(&self.fields, d))
                            .map_err(search_err)?;
                    }
                }
            }
            let mut prepared = w.prepare_commit().map_err(search_err)?;
            prepared.set_payload(&current_epoch);
            prepared.commit().map_err(search_err)?;
            reader.reload().map_err(search_err)?;
            db.write_blocking(move |c| {
                c.execute("DELETE FROM search_outbox WHERE seq <= ?1", [max_seq])?;
                Ok(())
            })?;
            if caught_up {
                break;
            }
        }
        if let Some(w) = writer {
            w.wait_merging_threads().map_err(search_err)?;
        }
        Ok(())
    }

    /// How many records of a kind the index holds (deleted ones included
    /// until their segment is merged: an estimate).
    pub fn count_of(&self, kind: &str) -> AppResult<usize> {
        let searcher = {
            let opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
            match opened.as_ref() {
                Some(o) => o.reader.searcher(),
                None => return Ok(0),
            }
        };
        let n = searcher
            .doc_freq(&Term::from_field_text(self.fields.kind, kind))
            .map_err(search_err)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// The share (0–1) of indexed records that are of these kinds.
    pub fn share_of(&self, kinds: &[String]) -> AppResult<f64> {
        let searcher = {
            let opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
            match opened.as_ref() {
                Some(o) => o.reader.searcher(),
                None => return Ok(0.0),
            }
        };
        let total = searcher.num_docs().max(1) as f64;
        let mut of_kinds = 0u64;
        for k in kinds {
            of_kinds += searcher
                .doc_freq(&Term::from_field_text(self.fields.kind, k))
                .map_err(search_err)?;
        }
        Ok(of_kinds as f64 / total)
    }

    /// The ids of the best `cap` matches of a query (blocking), and how many
    /// documents match in all, with each match's rank (`SearchDoc::rank`)
    /// when every one has one. Ids and ranks come from the numeric columns,
    /// so thousands cost well under a millisecond.
    pub fn ids(&self, q: &dyn tantivy::query::Query, cap: usize) -> AppResult<Matches> {
        let searcher = {
            let opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
            match opened.as_ref() {
                Some(o) => o.reader.searcher(),
                None => return Ok(Matches::default()),
            }
        };
        let (total, top) = searcher
            .search(
                q,
                &(
                    tantivy::collector::Count,
                    tantivy::collector::TopDocs::with_limit(cap.max(1)).order_by_score(),
                ),
            )
            .map_err(search_err)?;
        let mut by_segment: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (_, addr) in top {
            by_segment
                .entry(addr.segment_ord)
                .or_default()
                .push(addr.doc_id);
        }
        let mut found = Matches {
            uuids: Vec::with_capacity(total.min(cap)),
            others: Vec::new(),
            total,
            ranks: Some(Vec::with_capacity(total.min(cap))),
        };
        for (segment, docs) in by_segment {
            let columns = searcher.segment_reader(segment).fast_fields();
            let hi = columns.u64("id_hi").map_err(search_err)?;
            let lo = columns.u64("id_lo").map_err(search_err)?;
            // A segment whose documents have no rank has no column.
            let rank = columns.column_opt::<u64>("rank").map_err(search_err)?;
            for d in docs {
                match (hi.first(d), lo.first(d)) {
                    (Some(h), Some(l)) => {
                        found.uuids.push((u128::from(h) << 64) | u128::from(l));
                        match (rank.as_ref().and_then(|c| c.first(d)), found.ranks.as_mut()) {
                            (Some(r), Some(ranks)) => ranks.push(r),
                            _ => found.ranks = None,
                        }
                    }
                    // An id that is not a UUID: from the stored document.
                    _ => {
                        let doc: TantivyDocument = searcher
                            .doc(tantivy::DocAddress::new(segment, d))
                            .map_err(search_err)?;
                        if let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()) {
                            found.others.push(id.to_string());
                            found.ranks = None;
                        }
                    }
                }
            }
        }
        Ok(found)
    }

    /// Runs a query (blocking) and returns the stored documents with scores.
    /// `whole` is the same query kept to whole-word matches (see `run_where`).
    pub fn run(
        &self,
        q: &dyn tantivy::query::Query,
        whole: Option<&dyn tantivy::query::Query>,
        limit: usize,
    ) -> AppResult<Vec<(f32, Stored)>> {
        Ok(self.run_where(q, whole, limit, limit, |_| true)?.0)
    }

    /// Runs a query for its best `wide` hits and returns, best first, the
    /// first `limit` whose kind passes `keep` (documents are loaded one by one
    /// until there are enough), and whether those hits were every match.
    /// At most `capped::CAP` matches are scored; when a query matches more,
    /// `whole` (the query kept to whole-word matches) runs too, so that the
    /// records named in full are among the hits whatever the cap left out.
    pub fn run_where(
        &self,
        q: &dyn tantivy::query::Query,
        whole: Option<&dyn tantivy::query::Query>,
        wide: usize,
        limit: usize,
        keep: impl Fn(&str) -> bool,
    ) -> AppResult<(Vec<(f32, Stored)>, bool)> {
        let searcher = {
            let opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
            match opened.as_ref() {
                Some(o) => o.reader.searcher(),
                None => return Ok((Vec::new(), true)),
            }
        };
        let (top, capped) =
            capped::best(&searcher, q, whole, wide, capped::CAP).map_err(search_err)?;
        let seen_every_match = top.len() < wide && !capped;
        let f = self.fields;
        let mut out = Vec::with_capacity(limit.min(top.len()));
        for (score, addr) in top {
            if out.len() == limit {
                break;
            }
            let doc: TantivyDocument = searcher.doc(addr).map_err(search_err)?;
            let text = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let kind = text(f.kind);
            if !keep(&kind) {
                continue;
            }
            out.push((
                score,
                Stored {
                    kind,
                    id: text(f.id),
                    title: text(f.title),
                    subtitle: text(f.subtitle),
                    snippets: text(f.snippets)
                        .split('\n')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                },
            ));
        }
        Ok((out, seen_every_match))
    }
}

#[cfg(test)]
mod tests {
    use super::uuid_parts;

    #[test]
    fn only_ids_that_read_back_the_same_go_in_the_numeric_columns() {
        let id = crate::clock::new_id();
        let (hi, lo) = uuid_parts(&id).expect("a new id is a UUID");
        assert_eq!(
            uuid::Uuid::from_u64_pair(hi, lo).hyphenated().to_string(),
            id
        );
        // Another spelling of a UUID would come back changed: it is read
        // from the stored document instead.
        assert_eq!(uuid_parts(&id.to_uppercase()), None);
        assert_eq!(uuid_parts(&id.replace('-', "")), None);
        assert_eq!(uuid_parts("contact-42"), None);
    }
}
