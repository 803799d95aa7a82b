//! SQLite's own page cache, with one question answered before it scans.
//!
//! At the end of every transaction SQLite asks the page cache to drop the
//! pages past the end of the database (`xTruncate`). Its cache answers by
//! scanning its whole hash table whenever it once held a page numbered past
//! that end — and a B-tree balance that reorders sibling pages parks a page
//! for a moment on the number of the lock page (1 GiB in), so after almost
//! any insert that splits a page the cache "once held" page 262,145. A
//! create storm spent 5.9 % of the server's core in that scan, thousands of
//! hash buckets a commit, to drop nothing (issue 21's profile).
//!
//! This wrapper passes every call through to SQLite's default cache and
//! keeps, per cache, a bound on the page numbers it holds (the highest ever
//! fetched or moved to, reset by each truncation) and whether a page sits
//! on the lock page's number. A truncation that cannot drop anything — no
//! page at or past its limit — is skipped; every other one runs as before.
//! The bound only ever over-estimates, so a page that must go always goes.

use std::os::raw::{c_int, c_uint, c_void};
use std::sync::OnceLock;

use rusqlite::ffi;

/// SQLite's default page cache, as it was before ours was installed.
static DEFAULT: OnceLock<Methods> = OnceLock::new();

/// The method table SQLite hands out, made shareable (it is only read after
/// installation, and SQLite keeps its own copy).
struct Methods(ffi::sqlite3_pcache_methods2);
// SAFETY: the table is a set of function pointers and SQLite's `pArg`
// (null for the default cache); SQLite itself calls them from any thread.
unsafe impl Send for Methods {}
unsafe impl Sync for Methods {}

/// Byte offset of the lock page (SQLite's `PENDING_BYTE`).
const PENDING_BYTE: u32 = 0x4000_0000;

/// One page cache: SQLite's, and what we know of its page numbers.
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    /// No page numbered above this is held (except on `lock_page`).
    highest: c_uint,
    /// The lock page's number for this cache's page size (never a real page).
    lock_page: c_uint,
    /// A page has been moved to `lock_page` and not yet away from it.
    parked: bool,
}

/// Installs the wrapper; must run before SQLite initialises (the first
/// connection opened in the process). Returns whether it is in place.
pub(super) fn install() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let mut default = ffi::sqlite3_pcache_methods2 {
            iVersion: 0,
            pArg: std::ptr::null_mut(),
            xInit: None,
            xShutdown: None,
            xCreate: None,
            xCachesize: None,
            xPagecount: None,
            xFetch: None,
            xUnpin: None,
            xRekey: None,
            xTruncate: None,
            xDestroy: None,
            xShrink: None,
        };
        // SAFETY: both calls take a pointer to a method table, as documented
        // for SQLITE_CONFIG_GETPCACHE2 / SQLITE_CONFIG_PCACHE2; SQLite copies
        // the table we pass. After initialisation they answer SQLITE_MISUSE
        // and change nothing.
        unsafe {
            if ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_GETPCACHE2,
                &mut default as *mut ffi::sqlite3_pcache_methods2,
            ) != ffi::SQLITE_OK
            {
                return false;
            }
            if default.xCreate.is_none() || DEFAULT.set(Methods(default)).is_err() {
                return false;
            }
            let ours = ffi::sqlite3_pcache_methods2 {
                iVersion: 1,
                pArg: std::ptr::null_mut(),
                xInit: Some(init),
                xShutdown: Some(shutdown),
                xCreate: Some(create),
                xCachesize: Some(cachesize),
                xPagecount: Some(pagecount),
                xFetch: Some(fetch),
                xUnpin: Some(unpin),
                xRekey: Some(rekey),
                xTruncate: Some(truncate),
                xDestroy: Some(destroy),
                xShrink: Some(shrink),
            };
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_PCACHE2,
                &ours as *const ffi::sqlite3_pcache_methods2,
            ) == ffi::SQLITE_OK
        }
    })
}

fn default() -> &'static ffi::sqlite3_pcache_methods2 {
    // Our methods are installed only after DEFAULT is set.
    &DEFAULT.get().expect("page cache installed").0
}

// Each method below forwards to the default cache. SAFETY (all of them):
// SQLite calls them with a cache our `create` returned (a `Box<Cache>`) and
// serialises the calls on one cache, as it does for its own.

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    let d = default();
    match d.xInit {
        Some(f) => unsafe { f(d.pArg) },
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn shutdown(_: *mut c_void) {
    let d = default();
    if let Some(f) = d.xShutdown {
        unsafe { f(d.pArg) }
    }
}

unsafe extern "C" fn create(
    page_size: c_int,
    extra: c_int,
    purgeable: c_int,
) -> *mut ffi::sqlite3_pcache {
    let Some(f) = default().xCreate else {
        return std::ptr::null_mut();
    };
    let inner = unsafe { f(page_size, extra, purgeable) };
    if inner.is_null() {
        return inner;
    }
    let lock_page = PENDING_BYTE / c_uint::try_from(page_size.max(1)).unwrap_or(1) + 1;
    Box::into_raw(Box::new(Cache {
        inner,
        highest: 0,
        lock_page,
        parked: false,
    }))
    .cast()
}

fn cache<'a>(p: *mut ffi::sqlite3_pcache) -> &'a mut Cache {
    // SAFETY: see above; `p` came from `create`.
    unsafe { &mut *p.cast::<Cache>() }
}

unsafe extern "C" fn cachesize(p: *mut ffi::sqlite3_pcache, n: c_int) {
    if let Some(f) = default().xCachesize {
        unsafe { f(cache(p).inner, n) }
    }
}

unsafe extern "C" fn pagecount(p: *mut ffi::sqlite3_pcache) -> c_int {
    match default().xPagecount {
        Some(f) => unsafe { f(cache(p).inner) },
        None => 0,
    }
}

unsafe extern "C" fn fetch(
    p: *mut ffi::sqlite3_pcache,
    key: c_uint,
    create: c_int,
) -> *mut ffi::sqlite3_pcache_page {
    let c = cache(p);
    let Some(f) = default().xFetch else {
        return std::ptr::null_mut();
    };
    let page = unsafe { f(c.inner, key, create) };
    if !page.is_null() {
        c.holds(key);
    }
    page
}

unsafe extern "C" fn unpin(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    discard: c_int,
) {
    if let Some(f) = default().xUnpin {
        unsafe { f(cache(p).inner, page, discard) }
    }
}

unsafe extern "C" fn rekey(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    old: c_uint,
    new: c_uint,
) {
    let c = cache(p);
    if let Some(f) = default().xRekey {
        unsafe { f(c.inner, page, old, new) }
    }
    if old == c.lock_page {
        c.parked = false;
    }
    c.holds(new);
}

unsafe extern "C" fn truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    let c = cache(p);
    if !c.may_hold_from(limit) {
        count(|n| n.skipped += 1);
        return;
    }
    if let Some(f) = default().xTruncate {
        unsafe { f(c.inner, limit) }
    }
    c.truncated(limit);
}

unsafe extern "C" fn destroy(p: *mut ffi::sqlite3_pcache) {
    // SAFETY: SQLite destroys a cache once, after its last use.
    let c = unsafe { Box::from_raw(p.cast::<Cache>()) };
    if let Some(f) = default().xDestroy {
        unsafe { f(c.inner) }
    }
}

unsafe extern "C" fn shrink(p: *mut ffi::sqlite3_pcache) {
    if let Some(f) = default().xShrink {
        unsafe { f(cache(p).inner) }
    }
}

impl Cache {
    /// A page numbered `key` is (or may be) in the cache.
    fn holds(&mut self, key: c_uint) {
        if key == self.lock_page {
            self.parked = true;
            count(|n| n.parked += 1);
        } else if key > self.highest {
            self.highest = key;
        }
    }

    /// Whether any page numbered `limit` or more may be in the cache.
    fn may_hold_from(&self, limit: c_uint) -> bool {
        self.highest >= limit || (self.parked && self.lock_page >= limit)
    }

    /// The default cache dropped every page numbered `limit` or more.
    fn truncated(&mut self, limit: c_uint) {
        self.highest = self.highest.min(limit.saturating_sub(1));
        if self.lock_page >= limit {
            self.parked = false;
        }
        count(|n| n.passed += 1);
    }
}

/// What this thread's page caches did: truncations passed to SQLite's
/// cache and skipped, pages parked on the lock page's number. Kept per
/// thread because a connection's cache runs on the thread that uses it, so
/// a test reads exactly its own connection's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub skipped: u64,
    pub parked: u64,
}

thread_local! {
    static COUNTS: std::cell::Cell<Counts> = const {
        std::cell::Cell::new(Counts { passed: 0, skipped: 0, parked: 0 })
    };
}

fn count(f: impl FnOnce(&mut Counts)) {
    COUNTS.with(|c| {
        let mut n = c.get();
        f(&mut n);
        c.set(n);
    });
}

/// This thread's counts so far.
pub fn counts() -> Counts {
    COUNTS.with(|c| c.get())
}
