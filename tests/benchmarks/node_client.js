#!/usr/bin/env node
// node-smpp's client (npm "smpp", installed for the interop tests) driven like
// bench_client.py drives smppd's: the same-run reference the issue quotes
// ("node-smpp's client does about 18,000/s at window 10 here").
//
//   node node_client.js PORT WINDOW COUNT WARMUP DURATION_S RECEIPTS(0|1)
//
// Binds as transceiver to 127.0.0.1:PORT, keeps WINDOW submit_sm outstanding
// (a new one from each response), 20-character GSM texts different for every
// message; with RECEIPTS, registered_delivery 1 and every deliver_sm answered.
// After WARMUP responses it measures until COUNT more or DURATION_S, then
// prints one JSON line: messages, msg_per_s, cpu_us_per_msg (this process),
// receipts. Exits 1 on an error, 2 after DURATION_S + 30 s in all.
'use strict';

const path = require('path');
const smpp = require(path.join(__dirname, '..', 'interop', 'node', 'node_modules', 'smpp'));

const [port, window, count, warmup, duration, receipts] = process.argv.slice(2).map(Number);
if (!window) {
  console.error('usage: node node_client.js PORT WINDOW COUNT WARMUP DURATION_S RECEIPTS');
  process.exit(1);
}
setTimeout(() => { console.error('timed out'); process.exit(2); }, (duration + 30) * 1000).unref();

const session = smpp.connect({host: '127.0.0.1', port}, () => {
  session.bind_transceiver({system_id: 'bench', password: 'bench'}, (pdu) => {
    if (pdu.command_status !== 0) { console.error('bind failed', pdu.command_status); process.exit(1); }
    for (let i = 0; i < window; i++) sendOne();
  });
});
session.on('error', (e) => { console.error(String(e)); process.exit(1); });
session.socket.setNoDelay(true);

let sent = 0, ok = 0, dlr = 0, started = 0n, cpu0 = null, okAtStart = 0, tLast = 0n, deadline = null, done = false;

session.on('deliver_sm', (pdu) => {
  dlr++;
  session.send(pdu.response());
});

function sendOne() {
  if (done) return;
  if (ok >= warmup + count || (deadline !== null && process.hrtime.bigint() >= deadline)) {
    if (ok >= sent) finish();  // (the last outstanding response)
    return;
  }
  const n = sent++;
  session.submit_sm({
    source_addr: 'smppd-bench',
    destination_addr: '447700900123',
    registered_delivery: receipts ? 1 : 0,
    short_message: 'bench message ' + String(n % 1000000).padStart(6, '0'),
  }, (pdu) => {
    ok++;
    tLast = process.hrtime.bigint();
    if (ok === warmup) {
      started = tLast;
      cpu0 = process.cpuUsage();
      okAtStart = ok;
      deadline = started + BigInt(Math.round(duration * 1e9));
    }
    sendOne();
  });
}

function finish() {
  if (done) return;
  done = true;
  const cpu = process.cpuUsage(cpu0);
  const measured = ok - okAtStart;
  const seconds = Number(tLast - started) / 1e9;
  process.stdout.write(JSON.stringify({
    messages: measured,
    msg_per_s: Math.round(measured / seconds),
    cpu_us_per_msg: Math.round((cpu.user + cpu.system) / measured * 10) / 10,
    receipts: dlr,
  }) + '\n');
  session.close();
  process.exit(0);
}
