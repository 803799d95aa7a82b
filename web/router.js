// History-API router: real URLs, link interception, scroll memory per history entry.

const routes = [];
let handler = () => {};
let scrollerFn = () => null;
let current = null;

/** route('/o/:org/contacts/:id', 'contact') */
export function route(pattern, name) {
  const keys = [];
  const re = new RegExp('^' + pattern.replace(/\/:(\w+)/g, (_, k) => { keys.push(k); return '/([^/]+)'; }) + '/?$');
  routes.push({ re, keys, name });
}

export function match(pathname) {
  for (const r of routes) {
    const m = r.re.exec(pathname);
    if (m) {
      const params = {};
      r.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]); });
      return { name: r.name, params };
    }
  }
  return { name: 'notFound', params: {} };
}

function rememberScroll() {
  const el = scrollerFn();
  if (!el) return;
  const st = { ...(history.state || {}), scroll: el.scrollTop };
  history.replaceState(st, '', location.href);
}

function dispatch(isBack) {
  const url = new URL(location.href);
  const m = match(url.pathname);
  current = { ...m, path: url.pathname, query: url.searchParams, isBack, savedScroll: (history.state && history.state.scroll) || 0 };
  handler(current);
}

export function navigate(to, { replace = false } = {}) {
  const url = new URL(to, location.origin);
  // The app only ever navigates within itself; anything else stays put.
  if (url.origin !== location.origin) { console.warn('refused to navigate off-site', to); return; }
  rememberScroll();
  if (replace) history.replaceState({}, '', url.pathname + url.search + url.hash);
  else history.pushState({}, '', url.pathname + url.search + url.hash);
  dispatch(false);
}

/** Change query parameters of the current entry without re-rendering (filters, search). */
export function setQuery(params) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(params)) {
    if (v == null || v === '') url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  history.replaceState({ ...(history.state || {}), scroll: 0 }, '', url.pathname + url.search);
}

export const currentRoute = () => current;

export function start(onRoute, getScroller) {
  handler = onRoute;
  scrollerFn = getScroller;
  if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
  window.addEventListener('popstate', () => dispatch(true));
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download') || a.dataset.native != null) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    e.preventDefault();
    if (url.pathname + url.search === location.pathname + location.search && !url.hash) return;
    navigate(url.pathname + url.search + url.hash);
  });
  // Save the scroll position before reload/close so a reload lands where the user was.
  window.addEventListener('pagehide', rememberScroll);
  dispatch(false);
}
