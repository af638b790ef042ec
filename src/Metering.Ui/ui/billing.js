// The billing page: reads the account through the JSON API (/api/v1) with a session cookie (HttpOnly,
// SameSite=Strict) that an account key was exchanged for once at POST /session; the page never keeps
// the key. Writes echo the session's CSRF token. It renders every section. DOM is built with h(), never from
// HTML strings, so nothing the API returns can inject markup.
import { t, initialLanguage, setLanguage, language, money, signedMoney, num, signedPercent, date, dateTime, shortDate, meterName, statusName } from './i18n.js';
import { hbarChart, seriesChart, palette } from './charts.js';
import { digits, parseExpiry, validateCard } from './card.js';

// The session's CSRF token (from /session), sent on every write; the cookie itself is out of reach of scripts.
let csrfToken = null;
const accountId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const base = `/api/v1/accounts/${encodeURIComponent(accountId)}`;
const state = { overview: null, catalog: [], subscriptions: [], cards: [], ledger: [], invoices: null, preferences: null, notifications: null, series: null,
  forecast: null, planFit: null, granularity: 'day', groupBy: '' };

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
  }
}

// ---- tiny DOM helper -------------------------------------------------------------------------
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (['value', 'checked', 'disabled', 'selected', 'hidden'].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const body = id => document.querySelector(`#${id} .body`);
const fill = (id, ...nodes) => body(id).replaceChildren(...nodes.flat().filter(Boolean));
const empty = text => h('p', { class: 'empty' }, text);
const table = (headers, rows) => h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': headers.join(', ') },
  h('table', {}, h('thead', {}, h('tr', {}, headers.map(x => h('th', { scope: 'col' }, x)))), h('tbody', {}, rows)));
let fieldId = 0;
function field(label, input, hint) {
  input.id ||= `f${++fieldId}`;
  const wrap = h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
  if (hint) wrap.append(h('p', { class: 'hint' }, hint));
  return wrap;
}
const brands = { visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover', jcb: 'JCB', diners: 'Diners Club', unionpay: 'UnionPay' };
const cardLabel = c => `${brands[c.brand?.toLowerCase()] ?? c.brand} •••• ${c.last4}`;
const cur = () => state.overview?.currency ?? 'USD';
const m = amount => money(amount, cur());

function say(message, isError = false) {
  const status = document.getElementById('status');
  status.textContent = message;
  status.classList.toggle('error', isError);
}

/** Problem details (RFC 9457) as one readable sentence. */
function problemText(e) {
  if (!(e instanceof ApiError)) return `${t('failed')}: ${e.message}`;
  const p = e.problem;
  const errors = Array.isArray(p.errors) ? p.errors.map(x => x.message ?? x).join(' ') : '';
  return [p.title, p.detail, errors].filter((x, i, all) => x && all.indexOf(x) === i).join(' — ') || `${t('failed')} (HTTP ${e.status})`;
}

/** Runs an action from a form: shows its error in the form's alert region, reloads on success. */
async function act(form, action, success) {
  const alert = form.querySelector('.error');
  const buttons = [...form.querySelectorAll('button')];
  alert.textContent = '';
  buttons.forEach(b => (b.disabled = true));
  try {
    const result = await action();
    await load();
    say(typeof success === 'function' ? success(result) : success);
  } catch (e) {
    if (e.status !== 401) alert.textContent = problemText(e);
  } finally {
    buttons.forEach(b => (b.disabled = false));
  }
}

/** A question with Confirm / Cancel in place of a native dialog (keyboard friendly, testable). */
function confirmInline(form, question, onYes) {
  form.querySelector('.confirm')?.remove();
  const box = h('div', { class: 'confirm', role: 'group', 'aria-label': question },
    h('p', {}, question),
    h('button', { type: 'button', class: 'primary', onclick: () => { box.remove(); onYes(); } }, t('confirm')),
    h('button', { type: 'button', onclick: () => { box.remove(); say(''); } }, t('cancel')));
  form.querySelector('.error').before(box);
  box.querySelector('button').focus();
}

// ---- API ------------------------------------------------------------------------------------
async function api(method, path, payload) {
  const response = await fetch(path.startsWith('/api/') ? path : base + path, {
    method,
    headers: {
      Accept: 'application/json',
      ...(payload ? { 'Content-Type': 'application/json' } : {}),
      ...(method === 'GET' ? {} : { 'X-CSRF-Token': csrfToken ?? '' }),
    },
    body: payload ? JSON.stringify(payload) : undefined,
  });
  if (response.status === 401) {
    csrfToken = null;
    showKeyForm(t('signedOut'));
  }
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  const type = response.headers.get('Content-Type') ?? '';
  return type.includes('json') ? response.json() : response;
}

/** An endpoint that may not exist on this server yet: null when it answers 404 (or 405). */
async function optional(path) {
  try { return await api('GET', path); } catch (e) { if (e.status === 404 || e.status === 405) return null; throw e; }
}
const list = value => (value == null ? null : Array.isArray(value) ? value : value.items ?? value.data ?? []);

async function load() {
  const [overview, catalog, subscriptions, cards, ledger, invoices, preferences, notifications] = await Promise.all([
    api('GET', '/overview'), api('GET', '/api/v1/plans'), api('GET', '/subscriptions'), api('GET', '/payment-methods'),
    api('GET', '/ledger?pageSize=8'), optional('/invoices'), optional('/preferences'), optional('/notifications'),
  ]);
  Object.assign(state, { overview, catalog: list(catalog), subscriptions: list(subscriptions), cards, ledger: ledger.items ?? [], invoices: list(invoices), preferences, notifications: list(notifications) });
  state.series = await loadSeries();
  [state.forecast, state.planFit] = await Promise.all([optional('/insights/forecast'), optional(`/insights/plan-fit?periods=${FIT_PERIODS}`)]);
  render();
}

const FIT_PERIODS = 3;
/** How far back each granularity looks: two weeks of days, eight weeks, six months (the server compares it with the window before). */
const WINDOW_DAYS = { day: 14, week: 8 * 7, month: 6 * 31 };

/** Every meter's usage series over the window for the chosen granularity and breakdown, or null when the API has none yet. */
async function loadSeries() {
  // Up to the engine's now (not this browser's clock, which may be off), from a UTC midnight, so the first bucket is whole (the server aligns weeks and months itself).
  const to = new Date(state.overview.asOf);
  const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate() - WINDOW_DAYS[state.granularity] + 1));
  const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), granularity: state.granularity });
  if (state.groupBy) query.set('groupBy', state.groupBy);
  return optional(`/usage?${query}`);
}

// ---- sections -------------------------------------------------------------------------------
function render() {
  document.getElementById('account-id').textContent = accountId;
  renderOverview();
  renderPlans();
  renderHistory();
  renderInvoices();
  renderPayment();
  renderUsage();
  renderPreferences();
}

function stat(label, value, extra) {
  return h('div', { class: 'stat' }, h('p', { class: 'stat-label' }, label), h('p', { class: 'stat-value' }, value), extra && h('p', { class: 'hint' }, extra));
}

function cardSelect(selectedId) {
  return h('select', {}, state.cards.map(c => h('option', { value: c.id, selected: c.id === selectedId || (!selectedId && c.isDefault) },
    `${cardLabel(c)}${c.isDefault ? ` (${t('defaultCard').toLowerCase()})` : ''}`)));
}

/** Whole days from the forecast's moment to another, at least zero. */
const daysUntil = (from, to) => Math.max(0, Math.floor((new Date(to) - new Date(from)) / 86400000));

/** The run-out forecast in words: when auto-recharge next fires, or when the balance runs out, at the recent burn. */
function forecast(o, f) {
  if (o.pendingBalance > 0 && o.balance <= 0) return t('forecastPending', { pending: m(o.pendingBalance) });
  if (f == null) return t('forecastUnavailable');
  const pace = { days: num(f.windowDays), burn: m(f.burnPerDay) };
  if (f.autoRecharge.enabled) {
    return f.autoRecharge.nextAt
      ? t('forecastRecharge', { ...pace, amount: m(f.autoRecharge.amount), threshold: m(f.autoRecharge.threshold), date: date(f.autoRecharge.nextAt), in: num(daysUntil(f.asOf, f.autoRecharge.nextAt)) })
      : t('forecastNoRecharge', pace);
  }
  if (f.balanceRunsOutAt) return t('forecastRunsOut', { ...pace, date: date(f.balanceRunsOutAt), in: num(daysUntil(f.asOf, f.balanceRunsOutAt)) });
  return f.burnPerDay > 0 ? t('forecastLasts', pace) : t('forecastNone', { days: num(f.windowDays) });
}

function renderOverview() {
  const o = state.overview;
  const cycle = o.billingCycle;
  const stats = h('div', { class: 'stats' },
    stat(t('balance'), h('span', { id: 'balance' }, m(o.balance))),
    stat(t('pendingBalance'), h('span', { id: 'pending' }, m(o.pendingBalance))),
    stat(t('billingCycle'), cycle ? `${date(cycle.start)} – ${date(cycle.end)}` : t('noCycle')),
    stat(t('nextRenewal'), cycle ? date(cycle.renewsOn) : '—'),
    stat(t('eventsProcessed'), num(o.eventsProcessed)));

  const usage = h('div', {}, h('h3', {}, t('usageThisCycle')),
    h('ul', { class: 'chips' }, Object.entries(o.usage).map(([k, v]) => h('li', {}, h('strong', {}, num(v)), ' ', meterName(k)))));

  const purchase = h('div', {}, h('h3', {}, t('lastPurchase')),
    o.lastPurchase
      ? h('div', {}, h('p', { class: 'hint' }, dateTime(o.lastPurchase.at)),
        h('ul', { class: 'plain' }, o.lastPurchase.items.map(i => h('li', {}, `${i.description}: ${m(i.amount)}`))),
        h('p', {}, h('strong', {}, `${t('total')}: ${m(o.lastPurchase.total)}`)))
      : empty(t('noPurchase')));

  const activity = h('div', {}, h('h3', {}, t('recentActivity')),
    state.ledger.length
      ? table([t('date'), t('description'), t('amount'), t('balanceAfter')], state.ledger.map(e =>
        h('tr', {}, h('td', {}, dateTime(e.at)), h('td', {}, e.description), h('td', { class: 'num' }, m(e.amount)), h('td', { class: 'num' }, m(e.balanceAfter)))))
      : empty(t('noActivity')));

  fill('overview', stats,
    h('p', { class: 'forecast', id: 'forecast' }, h('strong', {}, `${t('forecast')}: `), forecast(o, state.forecast)),
    h('div', { class: 'columns' }, fundsForm(), autoRechargeForm(o.autoRecharge)),
    h('div', { class: 'columns' }, usage, purchase),
    activity);
}

function fundsForm() {
  const amount = h('input', { type: 'number', min: '1', step: '0.01', inputmode: 'decimal', required: true, value: '50' });
  const card = cardSelect();
  const form = h('form', { class: 'form box', id: 'funds-form', novalidate: true }, h('h3', {}, t('addFunds')));
  if (!state.cards.length) {
    form.append(h('p', {}, h('a', { href: '#payment' }, t('addCardFirst'))), h('p', { class: 'error', role: 'alert' }));
    return form;
  }
  let idempotencyKey = null;
  form.append(field(t('amount'), amount), field(t('card'), card), h('p', { class: 'error', role: 'alert' }), h('button', { type: 'submit', class: 'primary' }, t('addFunds')));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const value = Number(amount.value);
    if (!(value > 0)) { form.querySelector('.error').textContent = t('amountInvalid'); amount.focus(); return; }
    const chosen = state.cards.find(c => c.id === card.value);
    // One key per confirmed intent: a retried request after a network error never adds twice.
    idempotencyKey = crypto.randomUUID();
    confirmInline(form, t('confirmFunds', { amount: m(value), card: cardLabel(chosen) }), () =>
      act(form, () => api('POST', '/funds', { amount: value, paymentMethodId: chosen.id, idempotencyKey }), t('fundsAdded', { amount: m(value) })));
  });
  return form;
}

function autoRechargeForm(ar) {
  const enabled = h('input', { type: 'checkbox', role: 'switch', checked: ar.enabled, id: 'ar-enabled' });
  const threshold = h('input', { type: 'number', min: '0', step: '0.01', inputmode: 'decimal', value: String(ar.threshold ?? 20) });
  const amount = h('input', { type: 'number', min: '1', step: '0.01', inputmode: 'decimal', value: String(ar.amount ?? 50) });
  const card = cardSelect(ar.paymentMethodId);
  const current = ar.suspendedReason
    ? t('autoRechargeSuspended', { reason: ar.suspendedReason })
    : ar.enabled
      ? t('autoRechargeOn', { threshold: m(ar.threshold), amount: m(ar.amount), card: cardLabel(state.cards.find(c => c.id === ar.paymentMethodId) ?? { brand: '', last4: '' }) })
      : t('autoRechargeOff');
  const form = h('form', { class: 'form box', id: 'auto-recharge-form', novalidate: true },
    h('h3', {}, t('autoRecharge')),
    h('p', { class: ar.suspendedReason ? 'warning' : 'hint', id: 'ar-state' }, current),
    h('div', { class: 'switch' }, enabled, h('label', { for: 'ar-enabled' }, t('autoRecharge'))),
    field(t('threshold'), threshold), field(t('rechargeAmount'), amount),
    state.cards.length ? field(t('card'), card) : h('p', {}, h('a', { href: '#payment' }, t('addCardFirst'))),
    h('p', { class: 'error', role: 'alert' }),
    h('button', { type: 'submit', class: 'primary' }, t('save')));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    act(form, () => api('PUT', '/auto-recharge', {
      enabled: enabled.checked, threshold: Number(threshold.value), amount: Number(amount.value), paymentMethodId: card.value || null,
    }), t('saved'));
  });
  return form;
}

/** The forecast's word on one subscription's quota: used up, runs out before the period ends, or lasts it. */
function quotaForecast(subscriptionId, meter) {
  const f = state.forecast?.quotas.find(x => x.subscriptionId === subscriptionId && x.meter === meter);
  if (f == null || (f.perDay <= 0 && f.remaining > 0)) return null;
  const text = f.remaining <= 0 ? t('quotaUsedUp')
    : f.runsOutAt ? t('quotaRunsOut', { date: date(f.runsOutAt), perDay: num(f.perDay), end: date(f.periodEnd) })
      : t('quotaLasts', { perDay: num(f.perDay) });
  return h('p', { class: `hint quota-forecast${f.runsOutAt ? ' warning' : ''}` }, text);
}

function quotaBar(q, subscriptionId) {
  const ratio = q.included > 0 ? Math.min(1, q.used / q.included) : 1;
  const bar = h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(q.included), 'aria-valuenow': String(Math.min(q.used, q.included)),
    'aria-valuetext': t('quotaUsed', { used: num(q.used), included: num(q.included) }), 'aria-label': meterName(q.meter) }, h('div', { class: 'fill' }));
  const fillEl = bar.firstChild;
  fillEl.style.width = `${ratio * 100}%`;
  if (ratio >= 1) fillEl.classList.add('full'); else if (ratio >= 0.8) fillEl.classList.add('high');
  return h('div', { class: 'quota' },
    h('p', { class: 'quota-text' }, h('span', {}, meterName(q.meter)), h('span', {}, `${t('quotaUsed', { used: num(q.used), included: num(q.included) })} · ${t('quotaLeft', { left: num(q.remaining) })}`)),
    bar, quotaForecast(subscriptionId, q.meter));
}

function renderPlans() {
  const plans = state.overview.activePlans.map(p => {
    const form = h('form', { class: 'form inline' }, h('p', { class: 'error', role: 'alert' }),
      h('button', { type: 'submit', class: 'danger' }, t('cancelPlan')));
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      confirmInline(form, t('confirmCancelPlan', { plan: p.name }), () =>
        act(form, () => api('DELETE', `/subscriptions/${encodeURIComponent(p.subscriptionId)}`), t('planCancelled', { plan: p.name })));
    });
    return h('article', { class: 'plan box', 'aria-label': p.name },
      h('h3', {}, p.name, ' ', h('span', { class: 'badge' }, p.team ? `${t('team')}: ${p.team}` : t('allTeams'))),
      h('p', { class: 'hint' }, `${statusName(p.status)} · ${t('renewsOn', { date: date(p.currentPeriodEnd) })}`),
      p.quotas.map(q => quotaBar(q, p.subscriptionId)), form);
  });

  const plan = h('select', { required: true }, state.catalog.map(p =>
    h('option', { value: p.id }, `${p.name} — ${t(`perInterval.${p.interval}`, { fee: money(p.fee, p.currency) })}`)));
  const team = h('input', { type: 'text', autocomplete: 'off', maxlength: '64' });
  const form = h('form', { class: 'form box', id: 'subscribe-form', novalidate: true }, h('h3', {}, t('subscribe')),
    field(t('plan'), plan), field(t('teamOptional'), team), h('p', { class: 'hint' }, t('subscribeNote')),
    h('p', { class: 'error', role: 'alert' }), h('button', { type: 'submit', class: 'primary' }, t('subscribeButton')));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const chosen = state.catalog.find(p => p.id === plan.value);
    act(form, () => api('POST', '/subscriptions', { planId: plan.value, team: team.value.trim() || null }), t('subscribed', { plan: chosen?.name ?? plan.value }));
  });
  fill('plans', plans.length ? h('div', { class: 'grid' }, plans) : empty(t('noPlans')), form);
}

function renderHistory() {
  const subs = [...state.subscriptions].sort((a, b) => new Date(b.currentPeriodStart) - new Date(a.currentPeriodStart));
  fill('history', subs.length
    ? table([t('plan'), t('team'), t('status'), t('period'), t('invoices')], subs.map(s => h('tr', {},
      h('td', {}, s.name), h('td', {}, s.team ?? t('allTeams')), h('td', {}, h('span', { class: `status-${s.status}` }, statusName(s.status))),
      h('td', {}, `${date(s.currentPeriodStart)} – ${date(s.currentPeriodEnd)}`),
      h('td', {}, (s.periods ?? []).map(p => p.invoiceId).filter(Boolean).join(', ') || '—'))))
    : empty(t('noHistory')));
}

async function invoiceFile(invoice, kind) {
  const response = await api('GET', `/invoices/${encodeURIComponent(invoice.id)}/${kind}`);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  if (kind === 'pdf') {
    const a = h('a', { href: url, download: `${invoice.number ?? invoice.id}.pdf` });
    document.body.append(a); a.click(); a.remove();
  } else {
    const win = window.open(url, '_blank');
    win?.addEventListener('load', () => win.print());
  }
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function renderInvoices() {
  if (state.invoices == null) { fill('invoices', empty(t('invoicesUnavailable'))); return; }
  if (!state.invoices.length) { fill('invoices', empty(t('noInvoices'))); return; }
  fill('invoices', table([t('number'), t('date'), t('status'), t('total'), ''], state.invoices.map(inv => {
    const download = h('button', { type: 'button', onclick: () => invoiceFile(inv, 'pdf').catch(e => say(problemText(e), true)) }, t('downloadPdf'));
    const print = h('button', { type: 'button', onclick: () => invoiceFile(inv, 'html').catch(e => say(problemText(e), true)) }, t('print'));
    return h('tr', {}, h('td', {}, inv.number ?? inv.id), h('td', {}, date(inv.issuedAt ?? inv.date ?? inv.createdAt)),
      h('td', {}, statusName(inv.status)), h('td', { class: 'num' }, money(inv.total, inv.currency ?? cur())), h('td', { class: 'actions' }, download, print));
  })));
}

function renderPayment() {
  const cards = state.cards.map(c => {
    const form = h('form', { class: 'form inline' }, h('p', { class: 'error', role: 'alert' }));
    if (!c.isDefault) form.append(h('button', { type: 'button', onclick: () => act(form, () => api('PUT', `/payment-methods/${encodeURIComponent(c.id)}/default`), t('defaultChanged')) }, t('makeDefault')));
    form.append(h('button', { type: 'button', class: 'danger', onclick: () => confirmInline(form, t('confirmRemove', { card: cardLabel(c) }), () =>
      act(form, () => api('DELETE', `/payment-methods/${encodeURIComponent(c.id)}`), t('cardRemoved'))) }, t('remove')));
    return h('li', { class: 'card-item box' },
      h('p', {}, h('strong', {}, cardLabel(c)), ' ', c.isDefault && h('span', { class: 'badge' }, t('defaultCard'))),
      h('p', { class: 'hint' }, `${c.holderName ?? ''} · ${t(`funding.${c.funding}`)} · ${t('expires', { date: `${String(c.expMonth).padStart(2, '0')}/${c.expYear}` })}`),
      form);
  });
  fill('payment', h('h3', {}, t('cards')), cards.length ? h('ul', { class: 'grid plain', id: 'card-list' }, cards) : empty(t('noCards')), cardForm());
}

function cardForm() {
  const inputs = {
    holderName: h('input', { type: 'text', autocomplete: 'cc-name', required: true, name: 'holderName' }),
    number: h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'cc-number', required: true, maxlength: '23', name: 'number', spellcheck: 'false' }),
    expiry: h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'cc-exp', required: true, placeholder: 'MM/YY', maxlength: '7', name: 'expiry' }),
    cvc: h('input', { type: 'password', inputmode: 'numeric', autocomplete: 'cc-csc', required: true, maxlength: '4', name: 'cvc' }),
  };
  const labels = { holderName: t('holderName'), number: t('cardNumber'), expiry: t('expiry'), cvc: t('cvc') };
  const makeDefault = h('input', { type: 'checkbox', id: 'card-default', checked: !state.cards.length });
  const form = h('form', { class: 'form box', id: 'card-form', novalidate: true, autocomplete: 'on' }, h('h3', {}, t('addCard')));
  const messages = {};
  for (const [name, input] of Object.entries(inputs)) {
    input.id = `card-${name}`;
    messages[name] = h('p', { class: 'field-error', id: `card-${name}-error` });
    input.setAttribute('aria-describedby', messages[name].id);
    const f = field(labels[name], input);
    f.append(messages[name]);
    form.append(f);
  }
  form.append(h('div', { class: 'switch' }, makeDefault, h('label', { for: 'card-default' }, t('makeDefaultCheckbox'))),
    h('p', { class: 'error', role: 'alert' }), h('button', { type: 'submit', class: 'primary' }, t('addCardButton')));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const values = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value]));
    const errors = validateCard(values);
    for (const [name, input] of Object.entries(inputs)) {
      messages[name].textContent = errors[name] ? t(errors[name]) : '';
      input.setAttribute('aria-invalid', errors[name] ? 'true' : 'false');
    }
    const first = Object.keys(inputs).find(k => errors[k]);
    if (first) { inputs[first].focus(); return; }
    const exp = parseExpiry(values.expiry);
    const request = { type: 'card', number: digits(values.number), expMonth: exp.month, expYear: exp.year, cvc: values.cvc, holderName: values.holderName.trim(), makeDefault: makeDefault.checked };
    // The number lives only in this request: the fields are cleared whatever the answer.
    inputs.number.value = ''; inputs.cvc.value = '';
    act(form, () => api('POST', '/payment-methods', request), t('cardAdded'));
  });
  return form;
}

function renderUsage() {
  const o = state.overview;
  const included = {};
  for (const p of o.activePlans) for (const q of p.quotas) included[q.meter] = (included[q.meter] ?? 0) + q.included;
  const meters = Object.keys(o.usage);
  const color = meter => palette[meters.indexOf(meter) % palette.length];

  const byMeter = h('figure', { class: 'figure', id: 'usage-by-meter' }, h('figcaption', {}, t('byMeter')),
    hbarChart({ title: t('byMeter'), format: v => num(v), limitLabel: t('quota'),
      items: meters.map(k => ({ label: meterName(k), value: o.usage[k], limit: included[k], color: color(k) })) }));

  const planFigures = meters.filter(k => o.activePlans.some(p => p.quotas.some(q => q.meter === k))).map(k =>
    hbarChart({ title: `${t('byPlan')}: ${meterName(k)}`, format: v => num(v), limitLabel: t('quota'),
      items: o.activePlans.flatMap(p => p.quotas.filter(q => q.meter === k).map(q => ({ label: `${meterName(k)} · ${p.name}${p.team ? ` (${p.team})` : ''}`, value: q.used, limit: q.included, color: color(k) }))) }));
  const byPlan = h('figure', { class: 'figure', id: 'usage-by-plan' }, h('figcaption', {}, t('byPlan')), planFigures.length ? planFigures : empty(t('noPlans')));

  fill('usage', h('div', { class: 'columns' }, byMeter, byPlan), overTime(), planFit(state.planFit));
}

/** Days in the current billing cycle, for the quota's share of a day or a week; a month when there is no cycle yet. */
function cycleDays() {
  const c = state.overview.billingCycle;
  return c ? (new Date(c.end) - new Date(c.start)) / 86400000 : 30;
}

/**
 * Leads, calls and emails per day, week or month (one chart each, stacked by the chosen breakdown),
 * read from GET /usage as it answers: series per meter and group, totals and charged amounts per
 * meter, the change against the previous window (and a year ago), the plans' quotas, and asOf.
 */
function overTime() {
  const select = (key, label, options) => {
    const el = h('select', { 'data-key': key, onchange: async ev => {
      state[key] = ev.target.value;
      state.series = await loadSeries().catch(() => null);
      renderUsage();
      document.querySelector(`#usage select[data-key=${key}]`)?.focus();
    } }, options.map(([v, text]) => h('option', { value: v, selected: v === state[key] }, text)));
    return field(label, el);
  };
  const controls = h('div', { class: 'controls' },
    select('granularity', t('granularity'), [['day', t('day')], ['week', t('week')], ['month', t('month')]]),
    select('groupBy', t('groupBy'), [['', t('none')], ['team', t('team')], ['user', t('user')], ['plan', t('plan')]]));
  const wrap = h('div', { id: 'usage-over-time' }, h('h3', {}, t('overTime')), controls);
  const u = state.series;
  if (u == null) { wrap.append(empty(t('seriesUnavailable'))); return wrap; }

  const meters = [...new Set(u.series.map(s => s.meter))];
  // One colour per group across every meter's chart, so the one legend reads for all of them.
  const groups = [...new Set(u.series.map(s => s.group ?? ''))];
  const planNames = Object.fromEntries(u.quotas.map(q => [q.planId, q.name]));
  const groupName = g => g === '' ? '' : g === 'none' ? t(u.groupBy === 'plan' ? 'noPlan' : 'unassigned') : u.groupBy === 'plan' ? planNames[g] ?? g : g;
  const labelOf = { day: { day: 'numeric', month: 'short' }, week: { day: 'numeric', month: 'short' }, month: { month: 'short', year: '2-digit' } }[u.granularity];
  const bucketDays = { day: 1, week: 7, month: cycleDays() }[u.granularity];

  const figures = meters.map(meter => {
    const series = u.series.filter(s => s.meter === meter);
    const periods = (series[0]?.points ?? []).map((p, i) => ({
      label: shortDate(p.start, labelOf),
      values: Object.fromEntries(series.map(s => [groupName(s.group ?? ''), s.points[i].quantity])),
    }));
    const included = u.quotas.filter(q => q.meter === meter).reduce((sum, q) => sum + q.included, 0);
    // A plan's quota covers its whole billing cycle: against a day or a week the line is the cycle's even share.
    const limit = included > 0 ? included * bucketDays / cycleDays() : null;
    const title = `${meterName(meter)} · ${t(`per.${u.granularity}`)}`;
    return h('figure', { class: 'figure', 'data-meter': meter }, h('figcaption', {}, title),
      periods.length
        ? seriesChart({ title, periods, groups: groups.map(groupName), format: v => num(v, { notation: 'compact' }), limit,
          limitLabel: t('quotaShare', { value: num(Math.round(limit ?? 0)) }) })
        : empty(t('noSeries')),
      limit != null && h('p', { class: 'hint' }, h('span', { class: 'limit-key', 'aria-hidden': 'true' }), t('quotaShare', { value: num(Math.round(limit)) })));
  });

  const legend = groups.length > 1 || groups[0] !== '' ? h('ul', { class: 'legend' }, groups.map((g, i) => {
    const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.background = palette[i % palette.length];
    return h('li', {}, swatch, groupName(g));
  })) : null;

  const change = (window, meter) => {
    const c = window?.change[meter];
    return c == null ? t('noComparison') : signedPercent(c);
  };
  const yearAgo = u.trend.yearAgo;
  const summary = table(
    [t('meter'), t('quantity'), t('charged'), t('vsPrevious'), yearAgo && t('vsYearAgo')].filter(Boolean),
    meters.map(meter => h('tr', {},
      h('th', { scope: 'row' }, meterName(meter)),
      h('td', { class: 'num' }, num(u.totals[meter]?.quantity)),
      h('td', { class: 'num' }, money(u.totals[meter]?.amount, u.currency)),
      h('td', { class: 'num' }, change(u.trend.previous, meter)),
      yearAgo && h('td', { class: 'num' }, change(yearAgo, meter)))));
  summary.id = 'usage-summary';

  const lagSeconds = Math.round(u.lagMilliseconds / 1000);
  const freshness = h('p', { class: 'hint', id: 'usage-as-of' },
    t('usageWindow', { from: date(u.from), to: date(u.to), previousFrom: date(u.trend.previous.from), previousTo: date(u.trend.previous.to) }), ' ',
    lagSeconds > 0 ? t('asOfLag', { at: dateTime(u.asOf), seconds: num(lagSeconds) }) : t('asOf', { at: dateTime(u.asOf) }));

  wrap.append(...[meters.length ? h('div', { class: 'charts' }, figures) : empty(t('noSeries')), legend, summary, freshness].filter(Boolean));
  return wrap;
}

/** Plan fit: what each plan would have cost for the usage of the last closed periods, the cheapest named with its saving. */
function planFit(fit) {
  const box = h('div', { class: 'advice box', id: 'plan-fit' }, h('h3', {}, t('planFit')));
  if (fit == null) { box.append(empty(t('planFitUnavailable'))); return box; }
  if (!fit.periods.length) { box.append(h('p', {}, t('planFitNoPeriod'))); return box; }
  const mm = amount => money(amount, fit.currency);
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const isCurrent = o => same(o.planIds, fit.current.planIds);
  const isCheapest = o => fit.cheapest != null && same(o.planIds, fit.cheapest.planIds);
  const span = fit.periods.length === 1 ? t('lastPeriod') : t('lastPeriods', { n: num(fit.periods.length) });

  const verdict = fit.cheapest == null ? t('planFitNoCover')
    : isCurrent(fit.cheapest) ? t('planFitCurrentBest', { span })
      : t('planFitSaving', { plan: fit.cheapest.label, total: mm(fit.cheapest.total), saving: mm(fit.saving), span });
  // Options that cover the usage first, cheapest first; those that do not are listed last, never recommended.
  const options = [...fit.options].sort((a, b) => (b.coversUsage - a.coversUsage) || (a.total - b.total));
  const rows = options.map(o => h('tr', { class: isCheapest(o) ? 'cheapest' : null },
    h('th', { scope: 'row' }, o.label,
      isCurrent(o) && h('span', { class: 'badge' }, t('currentPlans')),
      isCheapest(o) && h('span', { class: 'badge ok' }, t('cheapest'))),
    o.costs.map(c => h('td', { class: 'num' }, mm(c))),
    h('td', { class: 'num' }, h('strong', {}, mm(o.total))),
    h('td', {}, o.coversUsage ? (isCurrent(o) ? '—' : signedMoney(o.total - fit.current.total, fit.currency)) : t('doesNotCover'))));
  box.append(h('p', { class: 'verdict' }, verdict),
    table([t('option'), ...fit.periods.map(p => `${date(p.start)} – ${date(p.end)}`), t('total'), t('vsCurrent')], rows),
    h('p', { class: 'hint' }, t('planFitNote')));
  return box;
}

function renderPreferences() {
  const parts = [];
  if (state.preferences == null) parts.push(empty(t('prefsUnavailable')));
  else parts.push(preferencesForm(state.preferences));
  parts.push(h('h3', {}, t('notificationsReceived')));
  if (state.notifications == null) parts.push(empty(t('notificationsUnavailable')));
  else if (!state.notifications.length) parts.push(empty(t('noNotifications')));
  else parts.push(table([t('date'), t('description'), t('kind')], state.notifications.map(n => h('tr', {},
    h('td', {}, dateTime(n.at ?? n.sentAt)), h('td', {}, n.message ?? n.type ?? ''), h('td', {}, n.type ?? '')))));
  fill('preferences', parts);
}

/** Edits the fields it knows in the shape the server sent, and sends that shape back. */
function preferencesForm(prefs) {
  const copy = structuredClone(prefs);
  const info = copy.billingInfo ?? copy.billing ?? copy;
  const notify = copy.notifications ?? copy.notificationSettings ?? copy;
  const text = (obj, key, label, type = 'text') => {
    const input = h('input', { type, value: obj[key] ?? '', oninput: e => { obj[key] = type === 'number' ? (e.target.value === '' ? null : Number(e.target.value)) : e.target.value; } });
    return field(label, input);
  };
  const channels = ['kafka', 'email', 'webhook'].map(c => {
    const box = h('input', { type: 'checkbox', id: `channel-${c}`, checked: (notify.channels ?? []).includes(c), onchange: e => {
      const set = new Set(notify.channels ?? []); e.target.checked ? set.add(c) : set.delete(c); notify.channels = [...set];
    } });
    return h('div', { class: 'switch' }, box, h('label', { for: `channel-${c}` }, c));
  });
  const lowBalance = text(notify, 'lowBalanceThreshold', t('lowBalanceAlert'), 'number');
  const form = h('form', { class: 'form', id: 'preferences-form', novalidate: true },
    h('div', { class: 'columns' },
      h('fieldset', { class: 'box' }, h('legend', {}, t('billingInfo')),
        text(info, 'name', t('name')), text(info, 'email', t('email'), 'email'), text(info, 'address', t('address')), text(info, 'country', t('country')), text(info, 'taxId', t('taxId'))),
      h('fieldset', { class: 'box' }, h('legend', {}, t('notificationSettings')),
        text(notify, 'renewalReminderDays', t('renewalReminderDays'), 'number'), text(notify, 'invoiceDueReminderDays', t('invoiceDueReminderDays'), 'number'),
        lowBalance, h('fieldset', {}, h('legend', {}, t('channels')), channels), text(notify, 'webhookUrl', t('webhookUrl'), 'url'))),
    h('p', { class: 'error', role: 'alert' }), h('button', { type: 'submit', class: 'primary' }, t('save')));
  form.addEventListener('submit', ev => { ev.preventDefault(); act(form, () => api('PUT', '/preferences', copy), t('saved')); });
  return form;
}

// ---- start ----------------------------------------------------------------------------------
function showKeyForm(message) {
  delete document.body.dataset.ready;
  document.getElementById('content').hidden = true;
  document.getElementById('forget-key').hidden = true;
  document.getElementById('key-section').hidden = false;
  document.getElementById('key-error').textContent = message ?? '';
  say('');
  document.getElementById('key-input').focus();
}

async function start() {
  document.getElementById('status').textContent = t('loading');
  try {
    await load();
    document.getElementById('key-section').hidden = true;
    document.getElementById('content').hidden = false;
    document.getElementById('forget-key').hidden = false;
    say(t('loaded'));
    document.body.dataset.ready = 'true';
  } catch (e) {
    if (e.status !== 401) say(problemText(e), true);
  }
}

const sections = ['overview', 'plans', 'history', 'invoices', 'payment', 'usage', 'preferences'];

/** The nav links and the empty section shells (heading, lead, body), in page order. */
function buildShell() {
  document.getElementById('nav-list').replaceChildren(...sections.map(id => h('li', {}, h('a', { href: `#${id}`, 'data-i18n': id }))));
  document.getElementById('content').append(...sections.map(id => h('section', { id, class: 'card', 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title`, 'data-i18n': id }), h('p', { class: 'lead', 'data-i18n': `${id}Intro` }), h('div', { class: 'body' }))));
}

function init() {
  buildShell();
  setLanguage(initialLanguage(), false);
  const select = document.getElementById('lang');
  select.value = language();
  select.addEventListener('change', () => {
    setLanguage(select.value, true);
    if (state.overview) render();
  });
  document.getElementById('key-form').addEventListener('submit', ev => {
    ev.preventDefault();
    const key = document.getElementById('key-input').value.trim();
    document.getElementById('key-input').value = '';
    signIn(key);
  });
  document.getElementById('forget-key').addEventListener('click', signOut);
  // A link may carry a key in the fragment (never sent to a server): it is exchanged for a session and
  // taken out of the address bar and history at once.
  const match = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (match) {
    history.replaceState(null, '', location.pathname + location.search);
    signIn(decodeURIComponent(match[1]));
  } else resume();
}

/** Exchanges an account key for the session cookie; a key of another account opens that account's page. */
async function signIn(key) {
  const response = await fetch('/session', { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify({ key }) });
  if (!response.ok) return showKeyForm(t('keyRejected'));
  const session = await response.json();
  if (session.accountId !== accountId) return location.assign(`/accounts/${encodeURIComponent(session.accountId)}/billing`);
  csrfToken = session.csrfToken;
  start();
}

/** Carries on with the session this browser holds for this account (the demo accounts get one with the page). */
async function resume() {
  const response = await fetch('/session', { headers: { Accept: 'application/json' } });
  const session = response.ok ? await response.json() : null;
  if (session?.accountId !== accountId) return showKeyForm();
  csrfToken = session.csrfToken;
  start();
}

async function signOut() {
  await fetch('/session', { method: 'DELETE', headers: { 'X-CSRF-Token': csrfToken ?? '' } });
  csrfToken = null;
  showKeyForm();
}

init();
