/* Antar: the kelurahan officer's pages on the phone, also without a network (served as /kelurahan/sw.js, scope /).
 *
 * - Keeps the officer's pages and batches (`/api/v1/kelurahan/offline` lists them with versions; only what changed is
 *   fetched again) in a cache of that officer's own (`antar-data-<user id>`), and Antar's script, style and icons.
 * - Pages come from the network while it answers, from the cache when it does not (a page not kept: luring.html).
 * - A form the officer sends while the network is down is kept on the phone as a record (offline-store.js) when the
 *   page's script could not do it (the network looked up but was not), and the officer sees the page again.
 * - Logging out (POST /logout) clears the kelurahan's data from the phone; records not yet sent stay.
 * Nothing here comes from anywhere but Antar itself.
 */
/* global AntarStore */
'use strict';

importScripts('/kelurahan/static/offline-store.js');

var VERSION = '__VERSION__';
var STATIC_CACHE = 'antar-statis-' + VERSION;
var STATIC_URLS = [
  '/static/antar.css', '/kelurahan/static/officer.css', '/kelurahan/static/officer.js',
  '/kelurahan/static/offline-store.js', '/kelurahan/static/luring.html', '/kelurahan/static/keluar.html',
  '/kelurahan/manifest.webmanifest',
  '/kelurahan/static/icon-192.png', '/kelurahan/static/icon-512.png', '/kelurahan/static/icon-maskable-512.png'
];
var OFFLINE_PAGE = '/kelurahan/static/luring.html';
var LOGGED_OUT_PAGE = '/kelurahan/static/keluar.html';
// How long a page may take before the kept copy is shown (a weak network: the page still arrives for next time).
var NETWORK_WAIT_MS = 8000;
// Background fetches say so: the server then leaves the officer's flashed messages for the page he is looking at.
var BACKGROUND = {'X-Antar-Luring': '1'};

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(STATIC_CACHE).then(function (cache) { return cache.addAll(STATIC_URLS); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf('antar-statis-') === 0 && n !== STATIC_CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function isStatic(path) {
  return path === '/static/antar.css' || path.indexOf('/kelurahan/static/') === 0 ||
    path === '/kelurahan/manifest.webmanifest';
}

// What the officer opens: his home, reminders, batches and cards, and a batch's data for counting on the phone.
function isKept(path) {
  return path === '/' || path === '/kelurahan' || path === '/kelurahan/pengingat' ||
    /^\/kelurahan\/(berkas|kartu)\/\d+$/.test(path) || /^\/api\/v1\/kelurahan\/batches\/\d+$/.test(path);
}

self.addEventListener('fetch', function (event) {
  var req = event.request;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === 'POST') {
    if (url.pathname === '/logout') event.respondWith(logOut(req));
    else if (url.pathname === '/login' && req.mode === 'navigate') event.respondWith(logIn(req));
    else if (req.mode === 'navigate' && /^\/kelurahan\/(kartu\/\d+\/disposisi|berkas\/\d+\/terima)$/.test(url.pathname)) {
      event.respondWith(sendOrKeep(req, url));
    }
    return;
  }
  if (req.method !== 'GET') return;
  if (isStatic(url.pathname)) event.respondWith(fromCacheFirst(req));
  else if (isKept(url.pathname)) event.respondWith(fromNetworkFirst(req, req.mode === 'navigate'));
  else if (req.mode === 'navigate') {  // any other page: as usual, and a word instead of the browser's error offline
    event.respondWith(fetch(req).catch(function () {
      return caches.match(OFFLINE_PAGE).then(function (page) { return page || Response.error(); });
    }));
  }
});

function fromCacheFirst(req) {
  return caches.open(STATIC_CACHE).then(function (cache) {
    return cache.match(req, {ignoreSearch: true, ignoreVary: true}).then(function (hit) {
      return hit || fetch(req);
    });
  });
}

function keptCopy(req) {
  return AntarStore.getMeta('owner').then(function (owner) {
    if (!owner) return null;
    return caches.open(AntarStore.DATA_CACHE_PREFIX + owner.user_id).then(function (cache) {
      return cache.match(req, {ignoreSearch: true, ignoreVary: true}).then(function (hit) {
        var path = new URL(req.url).pathname;
        // the officer's start page is his kelurahan page
        return hit || (path === '/' ? cache.match('/kelurahan') : null);
      });
    });
  });
}

function fromNetworkFirst(req, navigate) {
  var network = fetch(req);
  network.catch(function () { return null; });  // answered below; not an unhandled rejection
  var waited = new Promise(function (resolve) { setTimeout(resolve, NETWORK_WAIT_MS, 'slow'); });
  return Promise.race([network, waited]).then(function (answer) {
    if (answer !== 'slow') return answer;
    return keptCopy(req).then(function (copy) { return copy || network; });
  }).catch(function () {
    return keptCopy(req).then(function (copy) {
      if (copy) return copy;
      if (navigate) return caches.match(OFFLINE_PAGE).then(function (page) { return page || Response.error(); });
      return Response.error();
    });
  });
}

// A form sent while the page believed the network was up: if it does not get through, the phone keeps it.
function sendOrKeep(req, url) {
  var copy = req.clone();
  return fetch(req).catch(function () {
    return Promise.all([copy.formData(), AntarStore.getMeta('owner')]).then(function (got) {
      var owner = got[1];
      var made = owner ? AntarStore.fromForm(url.pathname, got[0], owner.user_id) : null;
      if (!made || !made.record) return caches.match(OFFLINE_PAGE).then(function (p) { return p || Response.error(); });
      return AntarStore.putRecord(made.record).then(function () {
        var page = url.pathname.replace(/\/(disposisi|terima)$/, '');
        return Response.redirect(page, 303);
      });
    });
  });
}

// Logging out clears the kelurahan's data from the phone first. Without a network the server's session cannot be
// ended now: the phone remembers to end it when an Antar page next opens with a network (officer.js).
function logOut(req) {
  var session = null;
  var ended = Promise.all([AntarStore.getMeta('owner'), AntarStore.getMeta('logout_pending')]).then(function (got) {
    session = (got[1] && got[1].session) || (got[0] && got[0].session) || null;
  }).then(forget).catch(function () { return null; });
  return ended.then(function () { return fetch(req); }).catch(function () {
    return AntarStore.setMeta('logout_pending', {session: session}).then(function () {
      return caches.match(LOGGED_OUT_PAGE);
    }).then(function (page) { return page || Response.error(); });
  });
}

// A login on this browser (another account, or the same officer again) starts from a phone without kelurahan data:
// whatever the previous login kept goes before the new login's first page (records not yet sent stay).
function logIn(req) {
  return fetch(req).then(function (resp) {
    if (resp.type !== 'opaqueredirect' && !resp.redirected) return resp;  // refused: the login page again
    return forget().then(function () { return resp; }, function () { return resp; });
  });
}

function forget() {
  return AntarStore.forgetData().then(function () { broadcast({type: 'forgotten'}); });
}

function broadcast(message) {
  return self.clients.matchAll({includeUncontrolled: true}).then(function (list) {
    list.forEach(function (client) { client.postMessage(message); });
  });
}

// --- keeping the officer's pages -------------------------------------------------------------------------------

var keeping = null;
var again = false;

self.addEventListener('message', function (event) {
  var data = event.data || {};
  if (data.type === 'keep') {
    event.waitUntil(keep(data.user_id, !!data.force));
  } else if (data.type === 'forget') {
    event.waitUntil(forget());
  }
});

function keep(userId, force) {
  if (keeping) { again = again || force; return keeping; }
  keeping = keepNow(userId, force).catch(function () { return null; }).then(function (result) {
    keeping = null;
    if (!result) broadcast({type: 'kept', user_id: userId, kept_at: null});  // nothing new (or no network)
    if (again) { again = false; return keep(userId, true); }
    return result;
  });
  return keeping;
}

function keepNow(userId, force) {
  var cacheName = AntarStore.DATA_CACHE_PREFIX + userId;
  return Promise.all([AntarStore.getMeta('owner'), AntarStore.getMeta('kept')]).then(function (got) {
    var owner = got[0];
    var kept = got[1];
    if (!owner || owner.user_id !== userId) return null;
    if (!force && kept && kept.user_id === userId && Date.now() - Date.parse(kept.checked_at) < 60000) return null;
    return fetch('/api/v1/kelurahan/offline', {credentials: 'same-origin', cache: 'no-store', headers: BACKGROUND})
      .then(function (r) {
        if (!r.ok || r.redirected) throw new Error('daftar halaman tidak tersedia (' + r.status + ')');
        return r.json();
      })
      .then(function (bundle) {
        if (bundle.user_id !== userId) throw new Error('akun lain');
        return caches.open(cacheName).then(function (cache) { return refresh(cache, bundle, kept, userId); });
      });
  });
}

function refresh(cache, bundle, kept, userId) {
  var versions = (kept && kept.user_id === userId && kept.versions) || {};
  var listed = {};
  var fetched = 0;
  return cache.keys().then(function (requests) {
    var have = {};
    requests.forEach(function (r) { have[new URL(r.url).pathname] = true; });
    var todo = bundle.entries.filter(function (e) {
      listed[e.url] = true;
      return !have[e.url] || versions[e.url] !== e.version;
    });
    var dropped = requests.filter(function (r) { return !listed[new URL(r.url).pathname]; });
    return Promise.all(dropped.map(function (r) { return cache.delete(r); })).then(function () {
      return pool(todo, 3, function (entry) {
        return fetch(entry.url, {credentials: 'same-origin', cache: 'no-store', headers: BACKGROUND})
          .then(function (resp) {
            if (!resp.ok || resp.redirected || resp.headers.get('X-Antar-Pengguna') !== String(userId)) return;
            return cache.put(entry.url, resp).then(function () { versions[entry.url] = entry.version; fetched++; });
          });
      });
    });
  }).then(function () {
    Object.keys(versions).forEach(function (u) { if (!listed[u]) delete versions[u]; });
    return AntarStore.getMeta('owner');
  }).then(function (owner) {
    if (!owner || owner.user_id !== userId) {  // logged out meanwhile: keep nothing
      return caches.delete(AntarStore.DATA_CACHE_PREFIX + userId).then(function () { return null; });
    }
    var now = new Date().toISOString();
    var complete = Object.keys(listed).every(function (u) { return versions[u] !== undefined; });
    var state = {user_id: userId, versions: versions, checked_at: now,
      kept_at: complete ? now : (kept && kept.kept_at) || null, pages: Object.keys(listed).length, complete: complete};
    return AntarStore.setMeta('kept', state).then(function () {
      broadcast({type: 'kept', user_id: userId, kept_at: state.kept_at, pages: state.pages, fetched: fetched,
        complete: complete});
      return state;
    });
  });
}

// At most `width` fetches at once: a village office's connection is shared.
function pool(items, width, work) {
  var i = 0;
  function next() {
    if (i >= items.length) return Promise.resolve();
    var item = items[i++];
    return Promise.resolve().then(function () { return work(item); }).catch(function () { return null; }).then(next);
  }
  var runners = [];
  for (var k = 0; k < Math.min(width, items.length); k++) runners.push(next());
  return Promise.all(runners);
}
