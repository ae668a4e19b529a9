/* Antar: the kelurahan officer's pages without a network (issue 15).
 *
 * On every officer page: registers the service worker (sw.js) that keeps the officer's pages on the phone, shows
 * what is waiting to be sent (count, last successful sending, "Kirim sekarang"), and sends it when the network is
 * back. Without a network (or while earlier records still wait), a disposition or a receipt is kept on the phone
 * (offline-store.js) and shown as "belum terkirim"; a batch can be counted in on the phone. Each record is sent with
 * its own Idempotency-Key, so a retry after a lost answer records once; a record that met a card changed meanwhile
 * comes back as a conflict (409) that staff decide. Logging out with records not yet sent asks first; the records
 * stay on the phone for this officer, the kelurahan's kept pages are cleared. Without script the pages work as before.
 */
/* global AntarStore */
(function () {
  'use strict';

  var S = self.AntarStore;
  var meta = document.querySelector('meta[name="antar-petugas"]');
  if (!S || !meta || !window.indexedDB) return;

  var me = {id: parseInt(meta.content, 10), username: meta.dataset.username, kelurahan: meta.dataset.kelurahan,
    session: meta.dataset.sesi || null};
  var state = {
    records: [], others: 0, sent: [], lastSync: null, kept: null, keeping: false, syncing: null,
    authProblem: null, error: null, ready: false
  };
  var panel = null;

  // --- small helpers ------------------------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'hidden') node.hidden = !!attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }

  function when(iso) {
    if (!iso) return '—';
    var d = new Date(iso);
    var p = function (n) { return (n < 10 ? '0' : '') + n; };
    return p(d.getDate()) + '-' + p(d.getMonth() + 1) + '-' + d.getFullYear() + ' ' + p(d.getHours()) + '.' + p(d.getMinutes());
  }

  function pending() {
    return state.records.filter(function (r) { return r.state !== 'rejected'; });
  }

  function online() { return navigator.onLine !== false; }

  // --- the phone's data belongs to one officer ----------------------------------------------------------------------

  function adoptOwner() {
    var mine = {user_id: me.id, username: me.username, kelurahan: me.kelurahan, session: me.session};
    return S.getMeta('owner').then(function (owner) {
      if (owner && owner.user_id === me.id) {
        // Which login the phone is in: a page kept on the phone may be from an earlier one, so ask the server.
        if (owner.session === me.session || !online()) return null;
        return askSession().then(function (answer) {
          if (!answer.me || answer.me.user.id !== me.id) return null;
          owner.session = answer.me.session;
          return S.setMeta('owner', owner);
        });
      }
      // Another account's pages and counts (or none): they go. Its records not yet sent stay, bound to it.
      return (owner ? S.forgetData() : Promise.resolve()).then(function () { return S.setMeta('owner', mine); });
    });
  }

  function load() {
    return Promise.all([S.records(), S.getMeta('last_sync'), S.getMeta('sent'), S.getMeta('kept')]).then(function (got) {
      state.records = got[0].filter(function (r) { return r.user_id === me.id; });
      state.others = got[0].length - state.records.length;
      state.lastSync = got[1] && got[1].user_id === me.id ? got[1].at : null;
      state.sent = (got[2] || []).filter(function (s) { return s.user_id === me.id; });
      if (got[3] && got[3].user_id === me.id) state.kept = got[3];
    });
  }

  function refresh() {
    return load().then(function () {
      state.ready = true;
      render();
      showPage();
    });
  }

  // --- the service worker -------------------------------------------------------------------------------------------

  var FORCE_KEY = 'antar-luring-simpan-ulang';

  function startWorker() {
    if (!('serviceWorker' in navigator)) return;
    navigator.serviceWorker.register(meta.dataset.sw, {scope: '/'}).catch(function () { /* pages work without it */ });
    navigator.serviceWorker.addEventListener('message', function (event) {
      var data = event.data || {};
      if (data.type === 'kept' && data.user_id === me.id) {
        state.keeping = false;
        if (data.kept_at) state.kept = {kept_at: data.kept_at, pages: data.pages, complete: data.complete};
        render();
      }
    });
    if (navigator.serviceWorker.startMessages) navigator.serviceWorker.startMessages();
    keepPages(false);
  }

  function keepPages(force) {
    if (!('serviceWorker' in navigator) || !online()) return;
    try {
      force = force || sessionStorage.getItem(FORCE_KEY) === '1';
      sessionStorage.removeItem(FORCE_KEY);
    } catch (e) { /* private mode */ }
    navigator.serviceWorker.ready.then(function (reg) {
      if (!reg.active) return;
      state.keeping = !state.kept || force;
      render();
      reg.active.postMessage({type: 'keep', user_id: me.id, force: !!force});
    });
  }

  function keepAfterThisPage() {
    try { sessionStorage.setItem(FORCE_KEY, '1'); } catch (e) { /* private mode */ }
  }

  // --- sending ------------------------------------------------------------------------------------------------------

  function sync() {
    if (state.syncing) return state.syncing;
    var work = function () { return syncNow(); };
    var locked = navigator.locks && navigator.locks.request ? navigator.locks.request('antar-kirim', work) : work();
    state.syncing = Promise.resolve(locked).catch(function () { return null; }).then(function () {
      state.syncing = null;
      return refresh();
    }).then(reloadIfStale);
    render();
    return state.syncing;
  }

  // A card or batch page showed what the phone held; what was sent is now the office's: show the office's page
  // (unless the officer is typing on it).
  function reloadIfStale() {
    if (!state.reload) return;
    state.reload = false;
    var typing = document.activeElement && /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
    if (online() && !typing && document.querySelector('[data-luring-kartu], [data-luring-berkas]') &&
        !document.querySelector('dialog[open]')) {
      location.reload();
    }
  }

  function askSession() {
    return fetch('/api/v1/kelurahan/session', {credentials: 'same-origin', cache: 'no-store',
      headers: {Accept: 'application/json'}})
      .then(function (r) {
        if (r.status === 401) return {auth: 'Sesi berakhir, masuk lagi untuk mengirim.'};
        return r.json().then(function (body) {
          if (r.status === 403) return {auth: (body.error && body.error.message) || 'Akses ditolak.'};
          if (!r.ok) return {down: 'Server menjawab ' + r.status + '.'};
          return {me: body};
        });
      }, function () { return {down: 'Jaringan tidak tersambung.'}; });
  }

  function send(rec, csrf) {
    var headers = {'Content-Type': 'application/json', Accept: 'application/json', 'Idempotency-Key': rec.key};
    if (csrf) headers['X-CSRFToken'] = csrf;
    return fetch(rec.url, {method: 'POST', credentials: 'same-origin', cache: 'no-store', headers: headers,
      body: JSON.stringify(rec.body)})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) { return {status: r.status, body: body}; });
      });
  }

  function noteSent(rec, outcome, message) {
    state.sent.unshift({user_id: me.id, title: rec.title, summary: rec.summary, outcome: outcome,
      message: message || null, at: new Date().toISOString()});
    state.sent = state.sent.slice(0, 20);
    return S.setMeta('sent', state.sent);
  }

  function syncNow() {
    return load().then(function () {
      var todo = pending();
      if (!todo.length || !online()) return null;
      return askSession().then(function (answer) {
        if (answer.auth) { state.authProblem = answer.auth; return null; }
        if (answer.down) { state.error = 'Belum terkirim: ' + answer.down; return null; }
        if (answer.me.user.id !== me.id) {
          state.authProblem = 'Perangkat ini sekarang masuk sebagai ' + answer.me.user.username + ': catatan milik ' +
            me.username + ' dikirim setelah ' + me.username + ' masuk.';
          return null;
        }
        state.authProblem = null;
        state.error = null;
        return sendAll(todo, answer.me.csrf_token);
      });
    });
  }

  function sendAll(todo, csrf) {
    var sent = 0;
    var i = 0;
    var retriedCsrf = false;
    function next() {
      if (i >= todo.length) return finish(true);
      var rec = todo[i];
      return send(rec, csrf).then(function (answer) {
        var msg = answer.body && answer.body.error ? answer.body.error.message : null;
        if (answer.status >= 200 && answer.status < 300) {
          i++; sent++;
          return S.deleteRecord(rec.key).then(function () { return noteSent(rec, 'terkirim'); }).then(next);
        }
        if (answer.status === 409) {
          i++; sent++;
          return S.deleteRecord(rec.key).then(function () { return noteSent(rec, 'konflik', msg); }).then(next);
        }
        if (answer.status === 400 && msg && /CSRF/.test(msg) && !retriedCsrf) {
          retriedCsrf = true;
          return askSession().then(function (a) { if (a.me) csrf = a.me.csrf_token; return next(); });
        }
        if (answer.status === 401 || answer.status === 403) {
          state.authProblem = answer.status === 401 ? 'Sesi berakhir, masuk lagi untuk mengirim.' : msg;
          return finish(false);
        }
        if (answer.status === 422 && answer.body.error && answer.body.error.code === 'not_received') {
          i++;
          rec.message = msg; rec.attempts = (rec.attempts || 0) + 1;
          return S.putRecord(rec).then(next);
        }
        if (answer.status === 429 || answer.status >= 500) {
          state.error = 'Server sedang sibuk (' + answer.status + '); dicoba lagi nanti.';
          return finish(false);
        }
        // Refused as it stands (400, 404, 422): kept, with the reason, for the officer to record again or remove.
        i++;
        rec.state = 'rejected'; rec.message = msg || ('Ditolak (' + answer.status + ').');
        return S.putRecord(rec).then(next);
      }, function () {
        // The network went away halfway: this record and the rest wait; a retry with the same key records once.
        rec.attempts = (rec.attempts || 0) + 1;
        state.error = 'Pengiriman terputus: ' + (todo.length - i) + ' catatan menunggu jaringan.';
        return S.putRecord(rec).then(function () { return finish(false); });
      });
    }
    function finish(complete) {
      var done = complete ? S.setMeta('last_sync', {user_id: me.id, at: new Date().toISOString()}) : Promise.resolve();
      return done.then(function () {
        if (sent) { keepPages(true); state.reload = true; }
        return sent;
      });
    }
    return next();
  }

  // --- the panel: what waits on the phone ---------------------------------------------------------------------------

  function buildPanel() {
    var main = document.querySelector('main');
    if (!main) return;
    panel = el('section', {'class': 'luring-panel', role: 'region', 'aria-label': 'Catatan di perangkat'});
    main.insertBefore(panel, main.firstChild);
    panel.addEventListener('click', function (ev) {
      var button = ev.target.closest('button');
      if (!button) return;
      if (button.dataset.act === 'kirim') sync();
      if (button.dataset.act === 'hapus') removeRecord(button);
    });
  }

  function render() {
    if (!panel) return;
    var waiting = pending();
    var rejected = state.records.filter(function (r) { return r.state === 'rejected'; });
    panel.className = 'luring-panel' + (online() ? '' : ' luring-off') + (waiting.length ? ' luring-ada' : '');
    panel.textContent = '';
    var net = online() ? 'Tersambung' : 'Tanpa jaringan: catatan disimpan di perangkat ini';
    var line = el('p', {'class': 'luring-status'}, [el('span', {'class': 'luring-dot', 'aria-hidden': 'true'}),
      el('b', {text: net})]);
    panel.appendChild(line);
    var count = waiting.length
      ? el('p', {'class': 'luring-count'}, [el('b', {'data-luring-jumlah': '', text: String(waiting.length)}),
        ' catatan belum terkirim'])
      : el('p', {'class': 'luring-count'}, [state.ready ? 'Semua catatan sudah terkirim' : '…']);
    panel.appendChild(count);
    var times = ['Terakhir terkirim: ' + (state.lastSync ? when(state.lastSync) : 'belum ada')];
    if (state.keeping) times.push('menyimpan halaman untuk dipakai tanpa jaringan…');
    else if (state.kept && state.kept.kept_at) times.push('siap dipakai tanpa jaringan (disimpan ' + when(state.kept.kept_at) + ')');
    panel.appendChild(el('p', {'class': 'muted luring-times', text: times.join(' · ')}));
    if (state.authProblem) {
      var next = location.pathname.indexOf('/kelurahan') === 0 ? location.pathname : '/kelurahan';
      panel.appendChild(el('div', {'class': 'flash error', role: 'alert'}, [state.authProblem +
        ' Catatan tetap tersimpan di perangkat. ', el('a', {href: '/login?next=' + encodeURIComponent(next), text: 'Masuk lagi'})]));
    } else if (state.error && waiting.length) {
      panel.appendChild(el('div', {'class': 'luring-error', role: 'alert', text: state.error}));
    }
    if (rejected.length) {
      panel.appendChild(el('div', {'class': 'flash error', role: 'alert',
        text: rejected.length + ' catatan ditolak kantor: lihat alasannya di bawah, lalu catat ulang atau hapus.'}));
    }
    if (state.others) {
      panel.appendChild(el('p', {'class': 'muted', text: state.others + ' catatan akun lain di perangkat ini menunggu ' +
        'akun itu masuk untuk dikirim.'}));
    }
    if (waiting.length) {
      panel.appendChild(el('button', {type: 'button', 'class': 'luring-send', 'data-act': 'kirim',
        text: state.syncing ? 'Mengirim…' : 'Kirim sekarang'}));
      if (!online() || state.syncing) panel.lastChild.disabled = true;
    }
    if (state.records.length || state.sent.length) panel.appendChild(recordList());
  }

  function recordList() {
    var list = el('ul', {'class': 'luring-list'});
    state.records.forEach(function (r) {
      var status = r.state === 'rejected'
        ? el('span', {'class': 'badge luring-ditolak', text: 'ditolak'})
        : el('span', {'class': 'badge luring-belum', text: 'belum terkirim'});
      var li = el('li', {}, [el('b', {text: r.title}), ' ', status, el('div', {text: r.summary}),
        el('div', {'class': 'muted', text: 'dicatat ' + when(r.created_at)})]);
      if (r.message) li.appendChild(el('div', {'class': r.state === 'rejected' ? 'field-error' : 'muted', text: r.message}));
      li.appendChild(el('button', {type: 'button', 'class': 'luring-remove', 'data-act': 'hapus', 'data-key': r.key,
        text: 'Hapus catatan ini'}));
      list.appendChild(li);
    });
    state.sent.forEach(function (s) {
      var status = s.outcome === 'konflik'
        ? el('span', {'class': 'badge luring-tunggu', text: 'menunggu keputusan staf'})
        : el('span', {'class': 'badge luring-terkirim', text: 'terkirim'});
      var li = el('li', {'class': 'luring-done'}, [el('b', {text: s.title}), ' ', status, el('div', {text: s.summary}),
        el('div', {'class': 'muted', text: 'dikirim ' + when(s.at)})]);
      if (s.message) li.appendChild(el('div', {'class': 'muted', text: s.message}));
      list.appendChild(li);
    });
    // Open on the officer's home (his list of what waits), and wherever a record was refused; elsewhere folded, so
    // that the page's own content stays at the top.
    var open = state.records.length > 0 && (document.querySelector('[data-luring-rumah]') ||
      state.records.some(function (r) { return r.state === 'rejected'; }));
    var details = el('details', {'class': 'luring-details'}, [el('summary', {text: 'Catatan di perangkat (' +
      state.records.length + ' belum terkirim, ' + state.sent.length + ' baru terkirim)'}), list]);
    details.open = !!open;
    return details;
  }

  function removeRecord(button) {
    if (button.dataset.yakin !== '1') {
      button.dataset.yakin = '1';
      button.textContent = 'Yakin? Catatan ini tidak akan dikirim. Tekan lagi untuk menghapus';
      return;
    }
    S.deleteRecord(button.dataset.key).then(refresh);
  }

  // --- forms: kept on the phone when they cannot go now -------------------------------------------------------------

  function onSubmit(ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement)) return;
    var action = new URL(form.action, location.href).pathname;
    if (action === '/logout') { guardLogout(ev, form); return; }
    var kind = form.dataset.luring;
    if (!kind) {
      if ((form.getAttribute('method') || '').toLowerCase() === 'post') keepAfterThisPage();
      return;
    }
    if (online() && !pending().length && !state.authProblem) { keepAfterThisPage(); return; }
    ev.preventDefault();
    keepForm(form, action);
  }

  function formError(form, message) {
    var box = form.querySelector('[data-luring-pesan]');
    if (!box) {
      box = el('div', {'class': 'flash error', role: 'alert', 'data-luring-pesan': ''});
      form.insertBefore(box, form.firstChild);
    }
    box.textContent = message;
    box.scrollIntoView({block: 'center'});
  }

  function keepForm(form, action) {
    var made = S.fromForm(action, new FormData(form), me.id);
    if (!made) { formError(form, 'Formulir ini tidak dapat disimpan di perangkat; kirim saat ada jaringan.'); return; }
    if (made.error) { formError(form, made.error); return; }
    storeRecord(made.record);
  }

  function storeRecord(rec) {
    // A record the office refused for the same card or batch is replaced by the one recorded again.
    var replaced = state.records.filter(function (r) {
      return r.state === 'rejected' && r.kind === rec.kind &&
        (rec.kind === 'disposition' ? r.item_id === rec.item_id : r.batch_id === rec.batch_id);
    });
    return Promise.all(replaced.map(function (r) { return S.deleteRecord(r.key); }))
      .then(function () { return S.putRecord(rec); })
      .then(refresh)
      .then(function () {
        var top = document.querySelector('.luring-catatan') || panel;
        if (top) top.scrollIntoView({block: 'start'});
        if (online()) sync();
      });
  }

  // --- logging out --------------------------------------------------------------------------------------------------

  function guardLogout(ev, form) {
    if (form.dataset.luringLanjut === '1') return;
    ev.preventDefault();
    S.records(me.id).then(function (mine) {
      if (!mine.length) leave(form);
      else askBeforeLeaving(form, mine.length);
    });
  }

  function leave(form) {
    var done = function () {
      form.dataset.luringLanjut = '1';
      form.submit();
    };
    // Which login is ending: without a network the server hears of it later (sw.js, start below).
    var session = me.session;
    S.getMeta('owner').then(function (owner) { if (owner && owner.session) session = owner.session; })
      .then(S.forgetData).then(function () { return S.setMeta('logout_pending', {session: session}); })
      .then(done, done);
  }

  function askBeforeLeaving(form, n) {
    var dialog = el('dialog', {'class': 'luring-dialog', 'aria-labelledby': 'luring-keluar-judul'});
    var title = el('h2', {id: 'luring-keluar-judul', text: 'Masih ada ' + n + ' catatan belum terkirim'});
    var sendFirst = el('button', {type: 'button', 'class': 'primary', text: online() ? 'Kirim dulu' :
      'Kirim dulu (tidak ada jaringan)'});
    sendFirst.disabled = !online();
    var keep = el('button', {type: 'button', 'class': 'luring-keluar', text: 'Keluar, simpan catatan di perangkat'});
    var cancel = el('button', {type: 'button', text: 'Batal'});
    var message = el('p', {role: 'status', 'class': 'muted'});
    dialog.appendChild(title);
    dialog.appendChild(el('p', {text: 'Catatan ini belum sampai ke Disdukcapil. Bila Anda keluar sekarang, catatan ' +
      'tetap disimpan di perangkat ini, hanya untuk akun ' + me.username + ', dan dikirim setelah Anda masuk lagi. ' +
      'Halaman dan data kelurahan yang disimpan untuk dipakai tanpa jaringan dihapus dari perangkat.'}));
    dialog.appendChild(message);
    dialog.appendChild(el('div', {'class': 'luring-dialog-buttons'}, [sendFirst, keep, cancel]));
    document.body.appendChild(dialog);
    var close = function () { dialog.close(); dialog.remove(); };
    cancel.addEventListener('click', close);
    keep.addEventListener('click', function () { close(); leave(form); });
    sendFirst.addEventListener('click', function () {
      sendFirst.disabled = true;
      message.textContent = 'Mengirim…';
      sync().then(function () {
        var left = state.records.length;
        if (!left) { close(); leave(form); return; }
        title.textContent = 'Masih ada ' + left + ' catatan belum terkirim';
        message.textContent = state.authProblem || state.error || 'Sebagian catatan belum terkirim.';
        sendFirst.disabled = !online();
      });
    });
    dialog.addEventListener('cancel', function () { dialog.remove(); });
    dialog.showModal();
  }

  // --- the pages: what the phone holds, shown where it belongs ------------------------------------------------------

  function showPage() {
    markLists();
    var card = document.querySelector('[data-luring-kartu]');
    if (card) showCard(card);
    var batch = document.querySelector('[data-luring-berkas]');
    if (batch) showBatch(batch);
  }

  function recordOfItem(itemId) {
    return state.records.filter(function (r) { return r.kind === 'disposition' && r.item_id === itemId; }).pop();
  }

  function receiptOf(batchId) {
    return state.records.filter(function (r) { return r.kind === 'receipt' && r.batch_id === batchId; }).pop();
  }

  function badge(rec) {
    return rec.state === 'rejected'
      ? el('span', {'class': 'badge luring-ditolak', text: 'ditolak kantor'})
      : el('span', {'class': 'badge luring-belum', text: 'belum terkirim'});
  }

  function markLists() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-luring-item]'), function (spot) {
      var rec = recordOfItem(parseInt(spot.dataset.luringItem, 10));
      spot.textContent = '';
      if (rec) spot.appendChild(el('span', {}, [' · di perangkat: ' + rec.summary + ' ', badge(rec)]));
    });
  }

  function showCard(wrap) {
    var itemId = parseInt(wrap.dataset.luringKartu, 10);
    var batchId = parseInt(wrap.dataset.berkas, 10);
    var rec = recordOfItem(itemId);
    var receipt = receiptOf(batchId);
    var form = wrap.querySelector('form[data-luring="disposisi"]');
    var hiddenForm = wrap.querySelector('[data-luring-form]');
    var notice = wrap.querySelector('[data-luring-belum-diterima]');
    var note = wrap.querySelector('.luring-catatan');
    if (!note) {
      note = el('div', {'class': 'card luring-catatan', 'aria-live': 'polite'});
      var facts = wrap.querySelector('.card');
      wrap.insertBefore(note, facts ? facts.nextSibling : wrap.firstChild);
    }
    note.textContent = '';
    note.hidden = true;
    if (form) freshDates(form);
    if (rec && rec.state !== 'rejected') {
      note.hidden = false;
      note.appendChild(el('h2', {text: 'Tercatat di perangkat: ' + S.LABELS[rec.body.disposition]}));
      note.appendChild(el('p', {}, [rec.summary + ' ', badge(rec)]));
      note.appendChild(el('p', {'class': 'muted', text: (rec.message ? rec.message + ' ' : '') +
        'Dicatat ' + when(rec.created_at) + '; dikirim ke Disdukcapil saat jaringan ada.'}));
      if (form) form.hidden = true;
      if (hiddenForm) hiddenForm.hidden = true;
      if (notice) notice.hidden = true;
      return;
    }
    if (rec) {  // refused by the office: the reason, and the form to record it again
      note.hidden = false;
      note.appendChild(el('h2', {text: 'Catatan di perangkat ditolak kantor'}));
      note.appendChild(el('p', {}, [rec.summary + ' ', badge(rec)]));
      note.appendChild(el('p', {'class': 'field-error', text: rec.message || ''}));
      note.appendChild(el('p', {'class': 'muted', text: 'Catat ulang di bawah (menggantikan catatan ini), atau hapus ' +
        'catatan itu di daftar catatan di perangkat.'}));
    }
    if (form) form.hidden = false;
    if (hiddenForm && wrap.dataset.status === 'DISPATCHED') {
      var missing = receipt && receipt.body.missing.indexOf(wrap.dataset.blanko) >= 0;
      var open = receipt && receipt.state !== 'rejected' && !missing;
      hiddenForm.hidden = !open;
      if (notice) {
        notice.hidden = !!open;
        if (missing) notice.textContent = 'Kartu ini dilaporkan hilang saat berkas dihitung di perangkat (belum terkirim).';
      }
      if (open && !rec) {
        note.hidden = false;
        note.appendChild(el('p', {}, ['Berkas ini sudah dihitung di perangkat: ' + receipt.summary + ' ', badge(receipt)]));
      }
    }
  }

  // A page kept on the phone may be days old: the date the form offers is today's, on the phone.
  function freshDates(form) {
    var today = S.today();
    Array.prototype.forEach.call(form.querySelectorAll('input[type="date"]'), function (input) {
      if (input.value === input.defaultValue && input.defaultValue && input.defaultValue < today) input.value = today;
      if (input.max && input.max < today) input.max = today;
    });
  }

  // --- a batch on its way, counted in on the phone ------------------------------------------------------------------

  var batchView = null;

  function showBatch(wrap) {
    if (wrap.dataset.status !== 'DISPATCHED') return;
    var batchId = parseInt(wrap.dataset.luringBerkas, 10);
    var receipt = receiptOf(batchId);
    var serverParts = wrap.querySelectorAll('[data-daring]');
    var counting = wrap.querySelector('#hitung-luring');
    var local = !!receipt && receipt.state !== 'rejected';
    S.getCount(batchId).then(function (count) {
      var useLocal = local || !online() || (count && count.items.length > 0) || (receipt && receipt.state === 'rejected');
      Array.prototype.forEach.call(serverParts, function (part) { part.hidden = useLocal; });
      if (!useLocal) {
        if (counting) counting.hidden = true;
        removeReceived(wrap);
        return;
      }
      batchData(wrap).then(function (data) {
        if (local) {
          if (counting) counting.hidden = true;
          showReceived(wrap, data, receipt);
        } else {
          removeReceived(wrap);
          if (counting) { counting.hidden = false; showCounting(wrap, counting, data, count); }
        }
      }, function () {
        if (counting) counting.hidden = false;
        var box = counting && counting.querySelector('[data-luring-progres]');
        if (box) box.textContent = 'Data berkas ini belum tersimpan di perangkat: buka halaman ini sekali saat ada jaringan.';
      });
    });
  }

  function batchData(wrap) {
    if (batchView && batchView.id === wrap.dataset.luringBerkas) return Promise.resolve(batchView.data);
    return fetch(wrap.dataset.data, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) { batchView = {id: wrap.dataset.luringBerkas, data: data}; return data; });
  }

  function removeReceived(wrap) {
    var old = wrap.querySelector('#terima-luring');
    if (old) old.remove();
  }

  function showReceived(wrap, data, receipt) {
    removeReceived(wrap);
    var list = el('ul', {'class': 'kel-list'});
    data.item_list.forEach(function (it) {
      var rec = recordOfItem(it.id);
      var status;
      if (receipt.body.missing.indexOf(it.nomor_blanko) >= 0) {
        status = el('div', {'class': 'bad', text: 'Dilaporkan hilang (di perangkat)'});
      } else if (rec) {
        status = el('div', {}, ['Di perangkat: ' + rec.summary + ' ', badge(rec)]);
      } else {
        status = el('div', {text: 'Di kelurahan (diterima di perangkat)'});
      }
      list.appendChild(el('li', {}, [
        el('a', {'class': 'kel-title', href: '/kelurahan/kartu/' + it.id, text: it.nama}),
        el('div', {text: it.nomor_blanko + ' · RT ' + (it.rt || '-') + '/RW ' + (it.rw || '-')}),
        el('div', {'class': 'muted', text: it.reason_label}), status]));
    });
    var section = el('section', {'class': 'card', id: 'terima-luring', 'aria-labelledby': 'terima-luring-judul'}, [
      el('h2', {id: 'terima-luring-judul', text: 'Penerimaan tercatat di perangkat'}),
      el('p', {}, [receipt.summary + ' ', badge(receipt)]),
      el('p', {'class': 'muted', text: 'Catat nasib setiap kartu di halamannya; semuanya dikirim saat jaringan ada.'}),
      list]);
    var counting = wrap.querySelector('#hitung-luring');
    wrap.insertBefore(section, counting || null);
  }

  function normal(blanko) { return String(blanko || '').replace(/\s+/g, '').toUpperCase(); }

  function showCounting(wrap, section, data, count) {
    var batchId = parseInt(wrap.dataset.luringBerkas, 10);
    var items = data.item_list;
    var counted = {};
    ((count && count.items) || []).forEach(function (id) { counted[id] = true; });
    var progress = section.querySelector('[data-luring-progres]');
    var list = section.querySelector('[data-luring-belum]');
    var scan = section.querySelector('[data-luring-pindai]');
    var input = scan.querySelector('input');
    var answer = scan.querySelector('#luring-pesan');
    var save = section.querySelector('[data-luring-simpan]');
    var sure = save.querySelector('[data-luring-yakin]');
    var saveMessage = save.querySelector('[data-luring-simpan-pesan]');
    var saveButton = save.querySelector('button');

    function store() {
      return S.putCount({batch_id: batchId, user_id: me.id, items: Object.keys(counted).map(Number)});
    }
    function draw() {
      var left = items.filter(function (it) { return !counted[it.id]; });
      var n = items.length - left.length;
      progress.textContent = '';
      progress.appendChild(el('b', {text: String(n)}));
      progress.appendChild(document.createTextNode(' dari ' + items.length + ' kartu dihitung di perangkat' +
        (left.length ? ' · ' + left.length + ' belum' : ' · semua ada')));
      list.textContent = '';
      left.forEach(function (it) {
        var button = el('button', {type: 'button', 'aria-label': 'Ada: ' + it.nomor_blanko + ' ' + it.nama, text: 'Ada'});
        button.addEventListener('click', function () { count(it); });
        list.appendChild(el('li', {}, [el('div', {}, [el('span', {'class': 'kel-title', text: it.nama}),
          el('span', {'class': 'muted', text: it.nomor_blanko + ' · RT ' + (it.rt || '-') + '/RW ' + (it.rw || '-')})]),
          button]));
      });
      if (!left.length) list.appendChild(el('li', {'class': 'ok', text: 'Semua kartu di daftar sudah dihitung.'}));
      sure.hidden = !left.length;
      sure.querySelector('span').textContent = 'Saya sudah mencari: ' + left.length + ' kartu yang belum dihitung ' +
        'memang tidak ada (dilaporkan hilang).';
      saveButton.textContent = left.length ? 'Simpan di perangkat: ' + n + ' diterima, ' + left.length + ' hilang'
        : 'Simpan penerimaan di perangkat: ' + n + ' kartu';
    }
    function count(it) {
      if (counted[it.id]) {
        say(true, it.nomor_blanko + ' (' + it.nama + ') sudah dihitung sebelumnya.');
        return;
      }
      counted[it.id] = true;
      store().then(function () {
        draw();
        var n = Object.keys(counted).length;
        say(true, it.nomor_blanko + ' (' + it.nama + ') dihitung: ' + n + ' dari ' + items.length + ' kartu.');
      });
    }
    function say(ok, text) {
      answer.textContent = '';
      answer.appendChild(el('div', {'class': ok ? 'field-ok' : 'field-error', role: ok ? 'status' : 'alert', text: text}));
    }
    scan.onsubmit = function (ev) {
      ev.preventDefault();
      var typed = input.value;
      var wanted = normal(typed);
      input.value = '';
      if (!wanted) { say(false, 'Pindai atau ketik nomor blanko kartu, lalu tekan Enter.'); return; }
      var found = items.filter(function (it) { return normal(it.nomor_blanko) === wanted; })[0];
      if (!found) { say(false, 'Nomor blanko “' + typed.trim() + '” tidak ada di berkas ini.'); return; }
      count(found);
      input.focus();
    };
    save.onsubmit = function (ev) {
      ev.preventDefault();
      var left = items.filter(function (it) { return !counted[it.id]; });
      if (left.length && !sure.querySelector('input').checked) {
        saveMessage.textContent = left.length + ' kartu belum dihitung. Cari sekali lagi; bila memang tidak ada, ' +
          'centang pernyataan di atas tombol untuk melaporkannya hilang.';
        return;
      }
      var rec = S.receiptRecord(batchId, items.length - left.length,
        left.map(function (it) { return it.nomor_blanko; }), parseInt(wrap.dataset.versi, 10) || 0,
        'Berkas ' + wrap.dataset.nomor, me.id);
      S.deleteCount(batchId).then(function () { return storeRecord(rec); });
    };
    draw();
  }

  // --- start --------------------------------------------------------------------------------------------------------

  function start() {
    S.getMeta('logout_pending').then(function (pendingLogout) {
      var form = document.querySelector('form[action$="/logout"]');
      if (!pendingLogout || !online() || !form) { begin(); return; }
      askSession().then(function (answer) {
        return S.deleteMeta('logout_pending').then(function () {
          // The officer logged out of this login without a network: it ends now. (A login made since is not it.)
          if (answer.me && pendingLogout.session && answer.me.session === pendingLogout.session) leave(form);
          else begin();
        });
      });
    }, begin);
  }

  function begin() {
    buildPanel();
    document.addEventListener('submit', onSubmit, true);
    adoptOwner().then(refresh).then(function () {
      startWorker();
      if (online() && pending().length) sync();
    });
    window.addEventListener('online', function () { state.error = null; render(); showPage(); sync(); keepPages(false); });
    window.addEventListener('offline', function () { render(); showPage(); });
    setInterval(function () {
      if (online() && pending().length && !state.authProblem && !state.syncing) sync();
    }, 30000);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
