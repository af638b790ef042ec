// Strings of the billing page in English and Spanish, and locale-aware formatting (Intl).
const strings = {
  en: {
    skip: 'Skip to content', crumbs: 'My account › Billing', title: 'Billing', account: 'Account', language: 'Language',
    forgetKey: 'Sign out', sections: 'Sections',
    intro: 'Set up your billing preferences: your balance, plans, invoices, cards and usage in one place.',
    overview: 'Billing overview', plans: 'Your active plans', history: 'Subscription history', invoices: 'Invoices billed to you',
    payment: 'Payment method', usage: 'My service usage overview', preferences: 'Billing preferences',
    overviewIntro: 'Your balance, pending charges and billing cycle; add funds or let auto-recharge keep the balance up.',
    plansIntro: 'Every plan on your account, for the whole account or for one team, with what is left of each quota.',
    historyIntro: 'All your subscriptions, past and current, with their periods and invoices.',
    invoicesIntro: 'Download or print any invoice for your records.',
    paymentIntro: 'The cards you pay with. Card numbers go straight to the payment gateway and are never stored here.',
    usageIntro: 'Leads generated, calls made and emails sent, against what your plans include.',
    preferencesIntro: 'Billing details and reminders for renewals and invoice due dates.',
    keyTitle: 'Sign in with your API key', apiKey: 'API key', continue: 'Continue',
    keyHelp: 'Paste an API key of this account (an admin creates one at POST /api/v1/keys). The page keeps a session, never the key.',
    keyRejected: 'That key was not accepted. Use an API key of this account.',
    signedOut: 'Your session ended. Sign in again with an API key of this account.',
    loading: 'Loading…', loaded: 'Up to date', failed: 'Something went wrong', retry: 'Try again',
    balance: 'Balance', pendingBalance: 'Pending balance', billingCycle: 'Billing cycle', nextRenewal: 'Next renewal',
    eventsProcessed: 'Events counted', noCycle: 'Starts with your first usage',
    forecast: 'Run-out forecast', forecastNone: 'Nothing was charged to your balance in the last {days} days: it is not being drawn down.',
    forecastRunsOut: 'At the last {days} days\' pace ({burn} a day) your balance runs out around {date}, in about {in} days.',
    forecastLasts: 'At the last {days} days\' pace ({burn} a day) your balance lasts more than ten years.',
    forecastRecharge: 'At the last {days} days\' pace ({burn} a day) the balance reaches {threshold} around {date}, in about {in} days: auto-recharge then adds {amount}.',
    forecastNoRecharge: 'At the last {days} days\' pace ({burn} a day) auto-recharge is not expected to fire.',
    forecastUnavailable: 'The run-out forecast is not available on this server yet.',
    forecastPending: 'Your balance is used up: {pending} is pending. Add funds to settle it.',
    lastPurchase: 'Last purchase', noPurchase: 'No purchase yet.', total: 'Total',
    usageThisCycle: 'Usage this cycle', recentActivity: 'Recent activity', noActivity: 'No money movements yet.',
    date: 'Date', description: 'Description', amount: 'Amount', balanceAfter: 'Balance after',
    addFunds: 'Add funds', card: 'Card', addCardFirst: 'Add a card first, under Payment method.',
    confirmFunds: 'Charge {amount} to {card}?', confirm: 'Confirm', cancel: 'Cancel', fundsAdded: '{amount} added to your balance.',
    amountInvalid: 'Enter an amount greater than zero.',
    autoRecharge: 'Auto-recharge', autoRechargeOn: 'On: when the balance falls under {threshold}, {amount} is charged to {card}.',
    autoRechargeOff: 'Off', autoRechargeSuspended: 'Suspended: {reason}. Save the settings again to resume.',
    threshold: 'When the balance falls under', rechargeAmount: 'Recharge amount', save: 'Save', saved: 'Saved.',
    defaultCard: 'Default card',
    noPlans: 'No active plans. Subscribe to one below.', team: 'Team', allTeams: 'Whole account', renewsOn: 'Renews on {date}',
    quotaUsed: '{used} of {included} used', quotaLeft: '{left} left', cancelPlan: 'Cancel plan',
    quotaUsedUp: 'Used up: further usage is charged as overage.', quotaRunsOut: 'At {perDay} a day this runs out around {date}, before the period ends on {end}.',
    quotaLasts: 'At {perDay} a day this lasts the period.',
    confirmCancelPlan: 'Cancel {plan} now? It stops covering usage at once; the fee is not refunded.', planCancelled: '{plan} cancelled.',
    subscribe: 'Subscribe to a plan', plan: 'Plan', teamOptional: 'Team (optional)', subscribeButton: 'Subscribe',
    subscribeNote: 'The plan\'s fee is charged to your balance now.', subscribed: 'Subscribed to {plan}.',
    perInterval: { month: '{fee} a month', year: '{fee} a year' },
    status: 'Status', period: 'Period', noHistory: 'No subscriptions yet.',
    statuses: { active: 'Active', cancelled: 'Cancelled', canceled: 'Cancelled', expired: 'Expired', pending: 'Pending', past_due: 'Past due',
      paid: 'Paid', open: 'Open', draft: 'Draft', void: 'Void', uncollectible: 'Uncollectible', succeeded: 'Succeeded', failed: 'Failed' },
    number: 'Number', downloadPdf: 'Download PDF', print: 'Print', noInvoices: 'No invoices yet.',
    invoicesUnavailable: 'Invoices are not available on this server yet. They will appear here as soon as it issues them.',
    cards: 'Your cards', noCards: 'No card yet.', expires: 'expires {date}', makeDefault: 'Make default', remove: 'Remove',
    confirmRemove: 'Remove {card}?', cardRemoved: 'Card removed.', defaultChanged: 'Default card changed.',
    addCard: 'Add a card', holderName: 'Name on card', cardNumber: 'Card number', expiry: 'Expiry (MM/YY)', cvc: 'Security code (CVC)',
    makeDefaultCheckbox: 'Make this my default card', addCardButton: 'Add card', cardAdded: 'Card added.',
    errHolder: 'Enter the name on the card.', errNumber: 'Enter a valid card number.', errExpiry: 'Enter a valid expiry date in MM/YY.',
    errExpired: 'This card has expired.', errCvc: 'Enter the 3 or 4 digit security code.',
    meters: { lead: 'Leads', call: 'Calls', email: 'Emails' },
    byMeter: 'This cycle against your quotas', byPlan: 'What each plan delivers', quota: 'quota',
    overTime: 'Usage over time', granularity: 'Period', day: 'Day', week: 'Week', month: 'Month', groupBy: 'Break down by', none: 'Nothing',
    user: 'User', unassigned: 'Not assigned', noPlan: 'No plan (overage)',
    per: { day: 'per day', week: 'per week', month: 'per month' }, quotaShare: 'Dashed line: your quota\'s share, {value}',
    meter: 'Meter', quantity: 'Used', charged: 'Charged', vsPrevious: 'Against the previous period', vsYearAgo: 'Against a year ago',
    noComparison: 'no usage to compare',
    usageWindow: 'From {from} to {to}, compared with {previousFrom} to {previousTo}.', asOf: 'Figures as of {at}.',
    asOfLag: 'Figures as of {at}, about {seconds} s behind the live counts.',
    seriesUnavailable: 'Usage over time (by day, week or month, by team, user and plan) will appear here when the server offers it.',
    noSeries: 'No usage in this period.',
    planFit: 'Plan fit', planFitUnavailable: 'Plan advice is not available on this server yet.',
    planFitNoPeriod: 'Plan advice compares what each plan would have cost for your real usage once a billing period has closed. Check back after your first renewal.',
    planFitNoCover: 'No single plan covers all the usage you had; keep a combination that does.',
    lastPeriod: 'the last billing period', lastPeriods: 'the last {n} billing periods',
    planFitCurrentBest: 'Your current plans were the cheapest for your usage over {span}.',
    planFitSaving: '{plan} would have cost {total} over {span}: {saving} less than your current plans.',
    option: 'Option', currentPlans: 'Your plans', cheapest: 'Cheapest', vsCurrent: 'Against yours', doesNotCover: 'Leaves some usage unpriced: not a fit',
    planFitNote: 'Each plan\'s monthly fee plus the overage it would have charged, before tax, for the usage you actually had.',
    prefsUnavailable: 'Billing preferences will be available here when the server supports them.',
    billingInfo: 'Billing information', name: 'Name', email: 'Email', address: 'Address', country: 'Country', taxId: 'Tax ID',
    notificationSettings: 'Notifications', renewalReminderDays: 'Renewal reminder (days before)', invoiceDueReminderDays: 'Invoice due reminder (days before)',
    lowBalanceAlert: 'Low balance alert', channels: 'Channels', webhookUrl: 'Webhook URL',
    funding: { credit: 'Credit', debit: 'Debit', prepaid: 'Prepaid', unknown: 'Card' }, kind: 'Kind', notificationsReceived: 'Notifications received', noNotifications: 'No notifications yet.',
    notificationsUnavailable: 'The notifications sent to you will be listed here when the server supports them.',
  },
  es: {
    skip: 'Ir al contenido', crumbs: 'Mi cuenta › Facturación', title: 'Facturación', account: 'Cuenta', language: 'Idioma',
    forgetKey: 'Cerrar sesión', sections: 'Secciones',
    intro: 'Configura tus preferencias de facturación: tu saldo, planes, facturas, tarjetas y uso en un solo lugar.',
    overview: 'Resumen de facturación', plans: 'Tus planes activos', history: 'Historial de suscripción', invoices: 'Facturas facturadas a usted',
    payment: 'Método de pago', usage: 'Descripción general del uso de mi servicio', preferences: 'Preferencias de facturación',
    overviewIntro: 'Tu saldo, los saldos pendientes y tu ciclo de facturación; agrega fondos o deja que la recarga automática mantenga el saldo.',
    plansIntro: 'Todos los planes de tu cuenta, para toda la cuenta o para un equipo, con lo que queda de cada cuota.',
    historyIntro: 'Todas tus suscripciones, anteriores y actuales, con sus periodos y facturas.',
    invoicesIntro: 'Descarga o imprime cualquier factura para tus registros.',
    paymentIntro: 'Las tarjetas con las que pagas. Los números de tarjeta van directamente a la pasarela de pago y nunca se guardan aquí.',
    usageIntro: 'Clientes potenciales generados, llamadas realizadas y correos enviados, frente a lo que incluyen tus planes.',
    preferencesIntro: 'Datos de facturación y recordatorios de renovaciones y vencimientos de facturas.',
    keyTitle: 'Entra con tu clave de API', apiKey: 'Clave de API', continue: 'Continuar',
    keyHelp: 'Pega una clave de API de esta cuenta (un administrador la crea en POST /api/v1/keys). La página guarda una sesión, nunca la clave.',
    keyRejected: 'La clave no fue aceptada. Usa una clave de API de esta cuenta.',
    signedOut: 'Tu sesión terminó. Vuelve a entrar con una clave de API de esta cuenta.',
    loading: 'Cargando…', loaded: 'Actualizado', failed: 'Algo salió mal', retry: 'Reintentar',
    balance: 'Saldo', pendingBalance: 'Saldo pendiente', billingCycle: 'Ciclo de facturación', nextRenewal: 'Próxima renovación',
    eventsProcessed: 'Eventos contados', noCycle: 'Empieza con tu primer uso',
    forecast: 'Previsión de agotamiento', forecastNone: 'No se cargó nada a tu saldo en los últimos {days} días: no está bajando.',
    forecastRunsOut: 'Al ritmo de los últimos {days} días ({burn} al día) tu saldo se agota hacia el {date}, en unos {in} días.',
    forecastLasts: 'Al ritmo de los últimos {days} días ({burn} al día) tu saldo dura más de diez años.',
    forecastRecharge: 'Al ritmo de los últimos {days} días ({burn} al día) el saldo llega a {threshold} hacia el {date}, en unos {in} días: entonces la recarga automática agrega {amount}.',
    forecastNoRecharge: 'Al ritmo de los últimos {days} días ({burn} al día) no se espera que la recarga automática se active.',
    forecastUnavailable: 'La previsión de agotamiento aún no está disponible en este servidor.',
    forecastPending: 'Tu saldo se ha agotado: hay {pending} pendiente. Agrega fondos para saldarlo.',
    lastPurchase: 'Última compra', noPurchase: 'Aún no hay compras.', total: 'Total',
    usageThisCycle: 'Uso en este ciclo', recentActivity: 'Actividad reciente', noActivity: 'Aún no hay movimientos.',
    date: 'Fecha', description: 'Descripción', amount: 'Importe', balanceAfter: 'Saldo después',
    addFunds: 'Agregar fondos', card: 'Tarjeta', addCardFirst: 'Primero agrega una tarjeta, en Método de pago.',
    confirmFunds: '¿Cargar {amount} a {card}?', confirm: 'Confirmar', cancel: 'Cancelar', fundsAdded: 'Se agregaron {amount} a tu saldo.',
    amountInvalid: 'Introduce un importe mayor que cero.',
    autoRecharge: 'Recarga automática', autoRechargeOn: 'Activada: cuando el saldo baja de {threshold}, se cargan {amount} a {card}.',
    autoRechargeOff: 'Desactivada', autoRechargeSuspended: 'Suspendida: {reason}. Guarda de nuevo la configuración para reanudarla.',
    threshold: 'Cuando el saldo baje de', rechargeAmount: 'Importe de la recarga', save: 'Guardar', saved: 'Guardado.',
    defaultCard: 'Tarjeta predeterminada',
    noPlans: 'No hay planes activos. Suscríbete a uno abajo.', team: 'Equipo', allTeams: 'Toda la cuenta', renewsOn: 'Se renueva el {date}',
    quotaUsed: '{used} de {included} usados', quotaLeft: 'quedan {left}', cancelPlan: 'Cancelar plan',
    quotaUsedUp: 'Agotada: el uso adicional se cobra como excedente.', quotaRunsOut: 'A {perDay} al día se agota hacia el {date}, antes de que el periodo termine el {end}.',
    quotaLasts: 'A {perDay} al día dura todo el periodo.',
    confirmCancelPlan: '¿Cancelar {plan} ahora? Deja de cubrir el uso de inmediato; la cuota no se reembolsa.', planCancelled: '{plan} cancelado.',
    subscribe: 'Suscribirse a un plan', plan: 'Plan', teamOptional: 'Equipo (opcional)', subscribeButton: 'Suscribirse',
    subscribeNote: 'La cuota del plan se carga a tu saldo ahora.', subscribed: 'Suscrito a {plan}.',
    perInterval: { month: '{fee} al mes', year: '{fee} al año' },
    status: 'Estado', period: 'Periodo', noHistory: 'Aún no hay suscripciones.',
    statuses: { active: 'Activa', cancelled: 'Cancelada', canceled: 'Cancelada', expired: 'Vencida', pending: 'Pendiente', past_due: 'Vencida sin pagar',
      paid: 'Pagada', open: 'Abierta', draft: 'Borrador', void: 'Anulada', uncollectible: 'Incobrable', succeeded: 'Correcta', failed: 'Fallida' },
    number: 'Número', downloadPdf: 'Descargar PDF', print: 'Imprimir', noInvoices: 'Aún no hay facturas.',
    invoicesUnavailable: 'Las facturas aún no están disponibles en este servidor. Aparecerán aquí en cuanto las emita.',
    cards: 'Tus tarjetas', noCards: 'Aún no hay tarjetas.', expires: 'vence {date}', makeDefault: 'Hacer predeterminada', remove: 'Eliminar',
    confirmRemove: '¿Eliminar {card}?', cardRemoved: 'Tarjeta eliminada.', defaultChanged: 'Tarjeta predeterminada cambiada.',
    addCard: 'Agregar una tarjeta', holderName: 'Nombre en la tarjeta', cardNumber: 'Número de tarjeta', expiry: 'Vencimiento (MM/AA)', cvc: 'Código de seguridad (CVC)',
    makeDefaultCheckbox: 'Usar como tarjeta predeterminada', addCardButton: 'Agregar tarjeta', cardAdded: 'Tarjeta agregada.',
    errHolder: 'Introduce el nombre que figura en la tarjeta.', errNumber: 'Introduce un número de tarjeta válido.', errExpiry: 'Introduce un vencimiento válido en MM/AA.',
    errExpired: 'Esta tarjeta está vencida.', errCvc: 'Introduce el código de seguridad de 3 o 4 dígitos.',
    meters: { lead: 'Clientes potenciales', call: 'Llamadas', email: 'Correos electrónicos' },
    byMeter: 'Este ciclo frente a tus cuotas', byPlan: 'Lo que aporta cada plan', quota: 'cuota',
    overTime: 'Uso a lo largo del tiempo', granularity: 'Periodo', day: 'Día', week: 'Semana', month: 'Mes', groupBy: 'Desglosar por', none: 'Nada',
    user: 'Usuario', unassigned: 'Sin asignar', noPlan: 'Sin plan (excedente)',
    per: { day: 'por día', week: 'por semana', month: 'por mes' }, quotaShare: 'Línea discontinua: la parte de tu cuota, {value}',
    meter: 'Medidor', quantity: 'Usado', charged: 'Cobrado', vsPrevious: 'Frente al periodo anterior', vsYearAgo: 'Frente a hace un año',
    noComparison: 'sin uso para comparar',
    usageWindow: 'Del {from} al {to}, comparado con el {previousFrom} al {previousTo}.', asOf: 'Cifras al {at}.',
    asOfLag: 'Cifras al {at}, unos {seconds} s por detrás de los contadores en vivo.',
    seriesUnavailable: 'El uso a lo largo del tiempo (por día, semana o mes, por equipo, usuario y plan) aparecerá aquí cuando el servidor lo ofrezca.',
    noSeries: 'No hay uso en este periodo.',
    planFit: 'Ajuste del plan', planFitUnavailable: 'Los consejos de plan aún no están disponibles en este servidor.',
    planFitNoPeriod: 'El consejo de plan compara lo que habría costado cada plan con tu uso real cuando se haya cerrado un periodo de facturación. Vuelve a mirar tras tu primera renovación.',
    planFitNoCover: 'Ningún plan por sí solo cubre todo el uso que tuviste; mantén una combinación que lo cubra.',
    lastPeriod: 'el último periodo de facturación', lastPeriods: 'los últimos {n} periodos de facturación',
    planFitCurrentBest: 'Tus planes actuales fueron los más baratos para tu uso en {span}.',
    planFitSaving: '{plan} habría costado {total} en {span}: {saving} menos que tus planes actuales.',
    option: 'Opción', currentPlans: 'Tus planes', cheapest: 'El más barato', vsCurrent: 'Frente a los tuyos', doesNotCover: 'Deja uso sin precio: no encaja',
    planFitNote: 'La cuota mensual de cada plan más el excedente que habría cobrado, sin impuestos, por el uso que tuviste de verdad.',
    prefsUnavailable: 'Las preferencias de facturación estarán disponibles aquí cuando el servidor las admita.',
    billingInfo: 'Información de facturación', name: 'Nombre', email: 'Correo electrónico', address: 'Dirección', country: 'País', taxId: 'NIF / ID fiscal',
    notificationSettings: 'Notificaciones', renewalReminderDays: 'Recordatorio de renovación (días antes)', invoiceDueReminderDays: 'Recordatorio de vencimiento de factura (días antes)',
    lowBalanceAlert: 'Alerta de saldo bajo', channels: 'Canales', webhookUrl: 'URL del webhook',
    funding: { credit: 'Crédito', debit: 'Débito', prepaid: 'Prepago', unknown: 'Tarjeta' }, kind: 'Tipo', notificationsReceived: 'Notificaciones recibidas', noNotifications: 'Aún no hay notificaciones.',
    notificationsUnavailable: 'Las notificaciones que se te envíen aparecerán aquí cuando el servidor lo admita.',
  },
};

const LANG_KEY = 'metering.lang';
let lang = 'en';
let locale = 'en-US';

/** The saved choice, else the first of the browser's languages we speak (navigator.languages mirrors Accept-Language). */
export function initialLanguage() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved && strings[saved]) return saved;
  for (const l of navigator.languages ?? [navigator.language]) {
    const base = l.toLowerCase().split('-')[0];
    if (strings[base]) return base;
  }
  return 'en';
}

export function setLanguage(code, remember) {
  lang = strings[code] ? code : 'en';
  // Keep the browser's regional variant (es-MX, en-GB) for formatting when it matches.
  locale = (navigator.languages ?? []).find(l => l.toLowerCase().split('-')[0] === lang) ?? (lang === 'es' ? 'es-ES' : 'en-US');
  if (remember) localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang;
  document.title = `${t('title')} · ${t('crumbs').split('›')[0].trim()}`;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

export const language = () => lang;

/** The string for key (dotted paths reach nested tables), with {name} placeholders filled. */
export function t(key, values = {}) {
  const find = table => key.split('.').reduce((o, k) => (o == null ? undefined : o[k]), table);
  const text = find(strings[lang]) ?? find(strings.en) ?? key;
  return String(text).replace(/\{(\w+)\}/g, (_, name) => (name in values ? values[name] : `{${name}}`));
}

export const meterName = meter => t(`meters.${meter}`) === `meters.${meter}` ? meter : t(`meters.${meter}`);
export const statusName = status => (status && strings[lang].statuses[status.toLowerCase()]) || status || '—';

export const money = (amount, currency = 'USD') =>
  new Intl.NumberFormat(locale, { style: 'currency', currency }).format(Number(amount ?? 0));
/** A difference of money, signed: +$12.00 costs more, −$3.00 costs less. */
export const signedMoney = (amount, currency = 'USD') =>
  new Intl.NumberFormat(locale, { style: 'currency', currency, signDisplay: 'exceptZero' }).format(Number(amount ?? 0));
export const num = (value, options) => new Intl.NumberFormat(locale, options).format(Number(value ?? 0));
export const signedPercent = value => new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0, signDisplay: 'exceptZero' }).format(value);
/** Billing dates are UTC midnights: shown as UTC so a period never appears to start a day early. */
export const date = value => value ? new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(value)) : '—';
export const dateTime = value => value ? new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(value)) : '—';
export const shortDate = (value, options) => new Intl.DateTimeFormat(locale, { timeZone: 'UTC', ...options }).format(new Date(value));
