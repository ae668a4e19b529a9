/* Antar: what a kelurahan officer records without a network, kept on the phone (IndexedDB) until it is sent.
 *
 * Shared by the pages (officer.js) and the service worker (sw.js). One database, three stores:
 *   records  one per receipt or disposition not yet sent: its own idempotency key (the key of the store), the API
 *            path and body it is sent with, whose it is (user_id), and how far it got (pending, rejected);
 *   meta     small values: whose data the phone holds (owner), the last successful sending, what was kept offline;
 *   counts   a batch being counted on the phone (the blanko numbers found so far).
 * Logging out clears meta and counts and the kept pages (see forgetData); records stay, bound to their user, so that
 * nothing recorded is lost: they are sent when that officer logs in again.
 */
(function (global) {
  'use strict';

  var DB_NAME = 'antar-kelurahan';
  var DB_VERSION = 1;
  var DATA_CACHE_PREFIX = 'antar-data-';
  var LABELS = {
    HOLDER: 'Diserahkan kepada pemilik',
    FAMILY: 'Diserahkan kepada keluarga',
    DECEASED: 'Pemilik meninggal dunia',
    MOVED: 'Pemilik pindah alamat',
    NOT_COLLECTED: 'Tidak diambil sampai batas waktu'
  };
  var dbPromise = null;

  function open() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, DB_VERSION);
        req.onupgradeneeded = function () {
          var db = req.result;
          if (!db.objectStoreNames.contains('records')) {
            db.createObjectStore('records', {keyPath: 'key'}).createIndex('user', 'user_id');
          }
          if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta', {keyPath: 'name'});
          if (!db.objectStoreNames.contains('counts')) db.createObjectStore('counts', {keyPath: 'batch_id'});
        };
        req.onsuccess = function () {
          var db = req.result;
          db.onversionchange = function () { db.close(); dbPromise = null; };
          resolve(db);
        };
        req.onerror = function () { dbPromise = null; reject(req.error); };
      });
    }
    return dbPromise;
  }

  // One transaction: `work(store)` issues requests; resolves with what `work` returned (a request's result, if it
  // returned a request) once the transaction is committed.
  function run(storeName, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(storeName, mode);
        var out = work(tx.objectStore(storeName));
        tx.oncomplete = function () { resolve(out && 'result' in out && 'readyState' in out ? out.result : out); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error || new Error('transaksi dibatalkan')); };
      });
    });
  }

  function all(storeName) {
    return run(storeName, 'readonly', function (store) { return store.getAll(); });
  }

  function uuid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    var b = global.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  var seq = 0;

  // --- records -------------------------------------------------------------------------------------------------

  function records(userId) {
    return all('records').then(function (rows) {
      return rows.filter(function (r) { return userId === undefined || r.user_id === userId; })
        .sort(function (a, b) { return a.seq - b.seq || (a.key < b.key ? -1 : 1); });
    });
  }

  function putRecord(rec) {
    return run('records', 'readwrite', function (store) { store.put(rec); });
  }

  function deleteRecord(key) {
    return run('records', 'readwrite', function (store) { store.delete(key); });
  }

  function newRecord(userId, kind, url, body, info) {
    var now = new Date();
    var rec = {
      key: uuid(), user_id: userId, kind: kind, url: url, body: body, state: 'pending', message: null,
      attempts: 0, created_at: now.toISOString(), seq: now.getTime() * 1000 + (seq++ % 1000)
    };
    Object.keys(info || {}).forEach(function (k) { rec[k] = info[k]; });
    rec.body.recorded_at = rec.created_at;
    return rec;
  }

  function today() {
    var d = new Date();
    var pad = function (n) { return (n < 10 ? '0' : '') + n; };
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  }

  function field(get, name) { return String(get(name) || '').trim(); }

  // A disposition from the card page's form (its field names: returns/templates/kelurahan_card.html), checked as the
  // service checks it, so that what the phone keeps is what the office will accept. {record} or {error}.
  function dispositionFromForm(itemId, get, userId) {
    var chosen = field(get, 'disposition');
    if (!LABELS[chosen]) return {error: 'Pilih apa yang terjadi dengan kartu ini.'};
    var body = {disposition: chosen, seen_version: parseInt(get('versi'), 10) || 0};
    var summary = LABELS[chosen];
    var t = today();
    if (chosen === 'HOLDER' || chosen === 'FAMILY') {
      var p = chosen === 'HOLDER' ? 'holder_' : 'family_';
      body.receiver_name = field(get, p + 'name');
      body.handed_on = field(get, p + 'handed_on') || t;
      if (!body.receiver_name) return {error: 'Nama penerima wajib diisi.'};
      if (!/^\d{4}-\d{2}-\d{2}$/.test(body.handed_on)) return {error: 'Tanggal penyerahan tidak valid.'};
      if (body.handed_on > t) return {error: 'Tanggal penyerahan tidak boleh di masa depan.'};
      if (chosen === 'HOLDER') {
        body.id_checked = !!get('holder_id_checked');
        if (!body.id_checked) {
          return {error: 'Penyerahan kepada pemilik: identitas (KK/KTP lama/surat keterangan) wajib diperiksa.'};
        }
      } else {
        body.receiver_relationship = field(get, 'family_relationship');
        if (!body.receiver_relationship) return {error: 'Hubungan keluarga penerima wajib diisi.'};
      }
      summary += ': ' + body.receiver_name + (body.receiver_relationship ? ' (' + body.receiver_relationship + ')' : '') +
        ', ' + body.handed_on.split('-').reverse().join('-');
    } else if (chosen === 'DECEASED') {
      var note = field(get, 'deceased_note');
      if (note) { body.note = note; summary += ': ' + note; }
    } else if (chosen === 'MOVED') {
      var names = ['alamat', 'rt', 'rw', 'kelurahan', 'kecamatan', 'kabupaten_kota', 'kode_pos'];
      names.forEach(function (n) { var v = field(get, 'moved_' + n); if (v) body[n] = v; });
      if (!body.alamat) return {error: 'Alamat baru wajib diisi.'};
      if (body.rt && !/^\d{1,3}$/.test(body.rt)) return {error: 'RT: 1-3 angka.'};
      if (body.rw && !/^\d{1,3}$/.test(body.rw)) return {error: 'RW: 1-3 angka.'};
      if (body.kode_pos && !/^\d{5}$/.test(body.kode_pos)) return {error: 'Kode pos: 5 angka.'};
      summary += ': ' + [body.alamat, body.rt && 'RT ' + body.rt, body.rw && 'RW ' + body.rw, body.kelurahan]
        .filter(Boolean).join(', ');
    }
    var rec = newRecord(userId, 'disposition', '/api/v1/kelurahan/cards/' + itemId + '/disposition', body, {
      item_id: itemId, title: field(get, 'luring_judul') || 'Kartu #' + itemId, summary: summary
    });
    return {record: rec};
  }

  // A receipt: the blanko numbers not in hand are reported missing. {record} or {error}.
  function receiptRecord(batchId, counted, missing, seenVersion, title, userId, missingItems) {
    var body = {counted: counted, missing: missing, seen_version: seenVersion || 0};
    var summary = counted + ' kartu diterima' + (missing.length ? ', ' + missing.length + ' dilaporkan hilang' : '');
    return newRecord(userId, 'receipt', '/api/v1/kelurahan/batches/' + batchId + '/receipt', body, {
      batch_id: batchId, title: title || 'Berkas #' + batchId, summary: summary, missing_items: missingItems || []
    });
  }

  // A form the officer submitted, as a record (null: a form the phone cannot keep, e.g. a count kept on the server).
  function fromForm(path, formData, userId) {
    var get = function (name) { return formData.get(name); };
    var m = /^\/kelurahan\/kartu\/(\d+)\/disposisi$/.exec(path);
    if (m) return dispositionFromForm(parseInt(m[1], 10), get, userId);
    m = /^\/kelurahan\/berkas\/(\d+)\/terima$/.exec(path);
    if (m && formData.get('counted') !== null) {
      var counted = parseInt(field(get, 'counted'), 10);
      if (isNaN(counted) || counted < 0) return {error: 'Isi jumlah kartu yang ada di tangan (angka, 0 atau lebih).'};
      return {record: receiptRecord(parseInt(m[1], 10), counted, formData.getAll('missing'),
        parseInt(get('versi'), 10) || 0, field(get, 'luring_judul'), userId)};
    }
    return null;
  }

  // --- meta and counts --------------------------------------------------------------------------------------------

  function getMeta(name) {
    return run('meta', 'readonly', function (store) { return store.get(name); }).then(function (row) {
      return row ? row.value : null;
    });
  }

  function setMeta(name, value) {
    return run('meta', 'readwrite', function (store) { store.put({name: name, value: value}); });
  }

  function deleteMeta(name) {
    return run('meta', 'readwrite', function (store) { store.delete(name); });
  }

  function getCount(batchId) {
    return run('counts', 'readonly', function (store) { return store.get(batchId); });
  }

  function putCount(count) {
    return run('counts', 'readwrite', function (store) { store.put(count); });
  }

  function deleteCount(batchId) {
    return run('counts', 'readwrite', function (store) { store.delete(batchId); });
  }

  // The kelurahan's data on the phone (kept pages, counts, what was sent): gone at logout and when another account
  // logs in. The records not yet sent stay, bound to their officer.
  function forgetData() {
    var jobs = [
      run('counts', 'readwrite', function (store) { store.clear(); }),
      run('meta', 'readwrite', function (store) { store.clear(); })
    ];
    if (global.caches) {
      jobs.push(global.caches.keys().then(function (names) {
        return Promise.all(names.filter(function (n) { return n.indexOf(DATA_CACHE_PREFIX) === 0; })
          .map(function (n) { return global.caches.delete(n); }));
      }));
    }
    return Promise.all(jobs);
  }

  global.AntarStore = {
    DATA_CACHE_PREFIX: DATA_CACHE_PREFIX, LABELS: LABELS,
    records: records, putRecord: putRecord, deleteRecord: deleteRecord, newRecord: newRecord,
    receiptRecord: receiptRecord, dispositionFromForm: dispositionFromForm, fromForm: fromForm,
    getMeta: getMeta, setMeta: setMeta, deleteMeta: deleteMeta,
    getCount: getCount, putCount: putCount, deleteCount: deleteCount, forgetData: forgetData, today: today
  };
})(self);
