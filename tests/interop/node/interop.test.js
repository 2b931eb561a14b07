'use strict'
// The official Couchbase Node.js SDK (npm `couchbase`) against divan-server: what a user of the SDK
// sees. The suite starts its own divan-server on free ports, stops it at the end, and asserts the
// behaviour the SDK shows against a real Couchbase Server. Run: `node --test` in this folder;
// DIVAN_SERVER names the binary (default: <repo>/build/bin/divan-server).
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const couchbase = require('couchbase')

const SERVER =
  process.env.DIVAN_SERVER || path.resolve(__dirname, '../../../build/bin/divan-server')
const ADMIN = { username: 'Administrator', password: 'password' }
// Small timeouts: a hang fails in seconds, not minutes.
const TIMEOUTS = {
  kvTimeout: 2500,
  kvDurableTimeout: 5000,
  connectTimeout: 3000,
  bootstrapTimeout: 5000,
  managementTimeout: 5000,
}
const T = { timeout: 30000 } // upper bound for one test

// --- divan-server on free ports -------------------------------------------------------------

// Spawns divan-server and resolves once it has printed `divan-server kv=<port> http=<port>`
// (and, with --tls-cert, the TLS ports after it).
function startServer(args) {
  const ports = ['--kv-port', '0', '--http-port', '0', '--query-port', '0', '--tls-kv-port', '0',
    '--tls-http-port', '0', '--tls-query-port', '0', '--ephemeral']
  const child = spawn(SERVER, [...ports, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  // Whatever happens to the test, no server outlives this process.
  process.on('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return new Promise((resolve, reject) => {
    let out = ''
    const fail = (why) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(`divan-server (${SERVER}) ${why}; stdout: ${JSON.stringify(out)}`))
    }
    const timer = setTimeout(() => fail('printed no ports line within 10 s'), 10000)
    child.on('error', (err) => fail(`could not start: ${err.message}`))
    child.on('exit', (code, sig) => fail(`exited early (code ${code}, signal ${sig})`))
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk) => {
      out += chunk
      const m =
        /^divan-server kv=(\d+) http=(\d+)(?: query=(\d+))?(?: kvs=(\d+) https=(\d+) querys=(\d+))?\r?\n/m.exec(
          out
        )
      if (m) {
        clearTimeout(timer)
        child.removeAllListeners('exit')
        resolve({ child, kv: Number(m[1]), http: Number(m[2]), query: Number(m[3] || 0),
          kvs: Number(m[4] || 0) })
      }
    })
  })
}

// SIGTERM, then the server must exit cleanly (code 0) within 10 s.
async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`divan-server died during the tests (code ${child.exitCode}, signal ${child.signalCode})`)
  }
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve({ code, sig })))
  child.kill('SIGTERM')
  let timer
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), 10000)
  })
  const res = await Promise.race([exited, late])
  clearTimeout(timer)
  if (res === null) {
    child.kill('SIGKILL')
    throw new Error('divan-server did not stop within 10 s of SIGTERM')
  }
  assert.deepEqual(res, { code: 0, sig: null }, 'divan-server exits 0 on SIGTERM')
}

// --- helpers ------------------------------------------------------------------------------

let server // { child, kv, http }
const clusters = [] // every Cluster opened, closed in after()

const connStr = () => `couchbase://127.0.0.1:${server.kv}`

async function connect(auth = ADMIN) {
  const cluster = await couchbase.connect(connStr(), { ...auth, timeouts: TIMEOUTS })
  clusters.push(cluster)
  return cluster
}

// Plain HTTP to the management port with basic auth (the REST API without the SDK).
async function rest(method, urlPath, form, auth = ADMIN) {
  const headers = {
    authorization: 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64'),
  }
  let body
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(form).toString()
  }
  const res = await fetch(`http://127.0.0.1:${server.http}${urlPath}`, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(5000),
  })
  return { status: res.status, text: await res.text() }
}

// Asserts that promise rejects with an error of class cls (the SDK's class, not a message).
async function rejectsWith(promise, cls) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${err && err.constructor.name}: ${err}`)
    return true
  })
}

const casOf = (res) => res.cas.toString()
let keyNo = 0
const newKey = (what) => `node-${what}-${++keyNo}`

// --- the suite ------------------------------------------------------------------------------

describe('official Node.js SDK against divan-server', () => {
  let cluster, bucket, coll

  before(async () => {
    server = await startServer(['--threads', '2'])
    cluster = await connect()
    bucket = cluster.bucket('default')
    coll = bucket.defaultCollection()
  })

  after(async () => {
    for (const c of clusters) await c.close().catch(() => {})
    if (server) await stopServer(server.child)
  })

  it('upsert then get returns the document and its CAS', T, async () => {
    const key = newKey('upsert')
    const doc = { name: 'Ted', age: 80, tags: ['a', 'b'], nested: { x: 1.5, ok: true, none: null } }
    const up = await coll.upsert(key, doc)
    assert.ok(up.cas, 'upsert returns a CAS')
    const got = await coll.get(key)
    assert.deepEqual(got.content, doc)
    assert.equal(casOf(got), casOf(up))
    // A second upsert replaces the whole document and changes the CAS.
    const up2 = await coll.upsert(key, { name: 'Ted', age: 81 })
    assert.notEqual(casOf(up2), casOf(up))
    assert.deepEqual((await coll.get(key)).content, { name: 'Ted', age: 81 })
  })

  it('insert on an existing key fails with DocumentExistsError', T, async () => {
    const key = newKey('insert')
    await coll.insert(key, { v: 1 })
    await rejectsWith(coll.insert(key, { v: 2 }), couchbase.DocumentExistsError)
    assert.deepEqual((await coll.get(key)).content, { v: 1 }, 'the first value stays')
  })

  it('get of a missing key fails with DocumentNotFoundError', T, async () => {
    await rejectsWith(coll.get(newKey('missing')), couchbase.DocumentNotFoundError)
  })

  it('replace with a stale CAS fails with CasMismatchError; with the right CAS it works', T, async () => {
    const key = newKey('cas')
    const first = await coll.upsert(key, { v: 1 })
    const second = await coll.upsert(key, { v: 2 })
    await rejectsWith(coll.replace(key, { v: 3 }, { cas: first.cas }), couchbase.CasMismatchError)
    assert.deepEqual((await coll.get(key)).content, { v: 2 })
    await coll.replace(key, { v: 4 }, { cas: second.cas })
    assert.deepEqual((await coll.get(key)).content, { v: 4 })
    await rejectsWith(coll.replace(newKey('cas-missing'), { v: 1 }), couchbase.DocumentNotFoundError)
  })

  it('remove deletes the document; removing it again is DocumentNotFoundError', T, async () => {
    const key = newKey('remove')
    await coll.upsert(key, { v: 1 })
    const res = await coll.remove(key)
    assert.ok(res.cas)
    await rejectsWith(coll.get(key), couchbase.DocumentNotFoundError)
    await rejectsWith(coll.remove(key), couchbase.DocumentNotFoundError)
    // The key can be inserted afresh.
    await coll.insert(key, { v: 2 })
    assert.deepEqual((await coll.get(key)).content, { v: 2 })
  })

  it('touch and get with expiry report a plausible expiry time', T, async () => {
    const key = newKey('touch')
    const now = () => Math.floor(Date.now() / 1000)
    await coll.upsert(key, { v: 1 }, { expiry: 7200 })
    let got = await coll.get(key, { withExpiry: true })
    assert.deepEqual(got.content, { v: 1 })
    assert.ok(Math.abs(got.expiryTime - (now() + 7200)) <= 60, `expiryTime ${got.expiryTime}`)

    await coll.touch(key, 3600)
    got = await coll.get(key, { withExpiry: true })
    assert.deepEqual(got.content, { v: 1 }, 'touch keeps the value')
    assert.ok(Math.abs(got.expiryTime - (now() + 3600)) <= 60, `expiryTime ${got.expiryTime}`)

    const gat = await coll.getAndTouch(key, 600)
    assert.deepEqual(gat.content, { v: 1 })
    got = await coll.get(key, { withExpiry: true })
    assert.ok(Math.abs(got.expiryTime - (now() + 600)) <= 60, `expiryTime ${got.expiryTime}`)

    await rejectsWith(coll.touch(newKey('touch-missing'), 10), couchbase.DocumentNotFoundError)
  })

  it('getAndLock blocks writes until unlock', T, async () => {
    const key = newKey('lock')
    await coll.upsert(key, { v: 1 })
    const locked = await coll.getAndLock(key, 15)
    assert.deepEqual(locked.content, { v: 1 })

    // Against Couchbase Server the SDK does not surface DocumentLockedError for this: the server
    // answers LOCKED, the SDK retries (retry reason key_value_locked, per the SDK retry RFC) until
    // the write's timeout, and the user sees an AmbiguousTimeoutError that names the lock.
    await assert.rejects(coll.upsert(key, { v: 2 }, { timeout: 1000 }), (err) => {
      assert.ok(err instanceof couchbase.AmbiguousTimeoutError, `got ${err.constructor.name}: ${err}`)
      assert.ok(
        err.context.retry_reasons.includes('key_value_locked'),
        `timeout not caused by the lock: ${JSON.stringify(err.context)}`
      )
      return true
    })
    // Readers still see the old value; unlock with a wrong CAS is refused.
    assert.deepEqual((await coll.get(key)).content, { v: 1 })
    const other = await coll.upsert(newKey('lock-other'), { v: 0 })
    await rejectsWith(coll.unlock(key, other.cas), couchbase.CasMismatchError)

    await coll.unlock(key, locked.cas)
    await coll.upsert(key, { v: 3 })
    assert.deepEqual((await coll.get(key)).content, { v: 3 })
    await rejectsWith(coll.unlock(key, locked.cas), couchbase.DocumentNotLockedError)

    // The lock CAS itself is a valid CAS for a write that releases the lock.
    const again = await coll.getAndLock(key, 15)
    await coll.replace(key, { v: 4 }, { cas: again.cas })
    assert.deepEqual((await coll.get(key)).content, { v: 4 })
  })

  it('counters with and without an initial value', T, async () => {
    const bin = coll.binary()
    const key = newKey('counter')
    let res = await bin.increment(key, 5, { initial: 10 })
    assert.equal(res.value, 10, 'a missing counter is created with the initial value')
    res = await bin.increment(key, 5)
    assert.equal(res.value, 15)
    res = await bin.decrement(key, 3)
    assert.equal(res.value, 12)
    res = await bin.decrement(key, 100)
    assert.equal(res.value, 0, 'decrement stops at zero')
    assert.equal((await coll.get(key)).content, 0, 'the counter reads back as a JSON number')

    const down = newKey('counter-down')
    res = await bin.decrement(down, 1, { initial: 7 })
    assert.equal(res.value, 7)

    await rejectsWith(bin.increment(newKey('counter-missing'), 1), couchbase.DocumentNotFoundError)
    await rejectsWith(bin.decrement(newKey('counter-missing'), 1), couchbase.DocumentNotFoundError)
  })

  it('append and prepend edit a binary document', T, async () => {
    const bin = coll.binary()
    const key = newKey('append')
    await coll.upsert(key, Buffer.from('middle'))
    await bin.append(key, '-end')
    await bin.prepend(key, Buffer.from('start-'))
    const got = await coll.get(key)
    assert.ok(Buffer.isBuffer(got.content), 'binary stays binary')
    assert.equal(got.content.toString(), 'start-middle-end')
    await rejectsWith(bin.append(newKey('append-missing'), 'x'), couchbase.DocumentNotFoundError)
  })

  it('exists tells present from absent', T, async () => {
    const key = newKey('exists')
    const up = await coll.upsert(key, { v: 1 })
    const yes = await coll.exists(key)
    assert.equal(yes.exists, true)
    assert.equal(casOf(yes), casOf(up))
    assert.equal((await coll.exists(newKey('exists-missing'))).exists, false)
    await coll.remove(key)
    assert.equal((await coll.exists(key)).exists, false, 'a removed document does not exist')
  })

  it('lookupIn and mutateIn with several specs, an xattr and a failing path', T, async () => {
    const { LookupInSpec: L, MutateInSpec: M } = couchbase
    const key = newKey('subdoc')
    await coll.upsert(key, { name: 'Ted', age: 80, tags: ['a', 'b'], addr: { city: 'Oslo' } })

    const mut = await coll.mutateIn(key, [
      M.upsert('addr.zip', '0150'),
      M.arrayAppend('tags', 'c'),
      M.increment('age', 1),
      M.upsert('audit.by', 'interop', { xattr: true, createPath: true }),
      M.insert('extra.deep.flag', true, { createPath: true }),
    ])
    assert.ok(mut.cas)
    assert.equal(mut.content[2].value, 81, 'the counter spec returns the new value')

    const look = await coll.lookupIn(key, [
      L.get('addr'),
      L.exists('tags'),
      L.count('tags'),
      L.get('audit.by', { xattr: true }),
      L.get('no.such.path'),
      L.exists('missing'),
      L.get('extra.deep.flag'),
    ])
    assert.equal(casOf(look), casOf(mut))
    const c = look.content
    assert.deepEqual(c[0].value, { city: 'Oslo', zip: '0150' })
    assert.equal(c[1].value, true)
    assert.equal(c[2].value, 3)
    assert.equal(c[3].value, 'interop')
    assert.ok(c[4].error instanceof couchbase.PathNotFoundError, `per-spec error: ${c[4].error}`)
    assert.equal(c[5].value, false)
    assert.equal(c[6].value, true)
    for (const i of [0, 1, 2, 3, 5, 6]) assert.ok(!c[i].error, `spec ${i}: ${c[i].error}`)

    // The xattr is not part of the document body.
    const body = (await coll.get(key)).content
    assert.deepEqual(body, {
      name: 'Ted',
      age: 81,
      tags: ['a', 'b', 'c'],
      addr: { city: 'Oslo', zip: '0150' },
      extra: { deep: { flag: true } },
    })

    // A failing path fails the whole mutation and changes nothing.
    await rejectsWith(
      coll.mutateIn(key, [M.upsert('name', 'Fred'), M.replace('no.such.path', 1)]),
      couchbase.PathNotFoundError
    )
    assert.deepEqual((await coll.get(key)).content, body)
    await rejectsWith(coll.mutateIn(key, [M.insert('name', 'X')]), couchbase.PathExistsError)

    await rejectsWith(coll.lookupIn(newKey('subdoc-missing'), [L.get('a')]), couchbase.DocumentNotFoundError)
  })

  it('durability majority on a bucket without replicas succeeds', T, async () => {
    const key = newKey('durable')
    const opts = { durabilityLevel: couchbase.DurabilityLevel.Majority }
    await coll.upsert(key, { v: 1 }, opts)
    await coll.replace(key, { v: 2 }, opts)
    assert.deepEqual((await coll.get(key)).content, { v: 2 })
    await coll.remove(key, opts)
    await rejectsWith(coll.get(key), couchbase.DocumentNotFoundError)
  })

  it('scopes and collections created over REST are usable', T, async () => {
    // Through the SDK's collection manager (REST on the management port found in the config).
    const mgr = bucket.collections()
    await mgr.createScope('sdk_scope')
    await mgr.createCollection('sdk_coll', 'sdk_scope')
    await rejectsWith(mgr.createScope('sdk_scope'), couchbase.ScopeExistsError)
    const scopes = await mgr.getAllScopes()
    const sdkScope = scopes.find((s) => s.name === 'sdk_scope')
    assert.ok(sdkScope, `scopes: ${JSON.stringify(scopes)}`)
    assert.ok(sdkScope.collections.some((c) => c.name === 'sdk_coll'))

    // Plain HTTP with basic auth; wrong credentials are refused.
    const base = '/pools/default/buckets/default/scopes'
    let res = await rest('POST', base, { name: 'rest_scope' })
    assert.equal(res.status, 200, res.text)
    res = await rest('POST', `${base}/rest_scope/collections`, { name: 'rest_coll' })
    assert.equal(res.status, 200, res.text)
    res = await rest('GET', base)
    assert.equal(res.status, 200, res.text)
    const manifest = JSON.parse(res.text)
    const restScope = manifest.scopes.find((s) => s.name === 'rest_scope')
    assert.ok(restScope && restScope.collections.some((c) => c.name === 'rest_coll'), res.text)
    res = await rest('POST', base, { name: 'nope' }, { username: 'Administrator', password: 'wrong' })
    assert.equal(res.status, 401)

    // The same key in three collections holds three documents.
    const key = newKey('coll')
    const a = bucket.scope('sdk_scope').collection('sdk_coll')
    const b = bucket.scope('rest_scope').collection('rest_coll')
    await a.upsert(key, { where: 'sdk' })
    await b.upsert(key, { where: 'rest' })
    await coll.upsert(key, { where: 'default' })
    assert.deepEqual((await a.get(key)).content, { where: 'sdk' })
    assert.deepEqual((await b.get(key)).content, { where: 'rest' })
    assert.deepEqual((await coll.get(key)).content, { where: 'default' })
    await b.remove(key)
    await rejectsWith(b.get(key), couchbase.DocumentNotFoundError)
    assert.deepEqual((await a.get(key)).content, { where: 'sdk' })
  })

  it('a wrong password fails with AuthenticationFailureError', T, async () => {
    await rejectsWith(connect({ username: 'Administrator', password: 'wrong' }), couchbase.AuthenticationFailureError)
    await rejectsWith(connect({ username: 'nobody', password: 'password' }), couchbase.AuthenticationFailureError)
  })

  it('an unknown bucket is an error', T, async () => {
    // The core fails the bucket's bootstrap with bucket_not_found (SELECT_BUCKET answered with
    // EACCESS, as Couchbase Server does). An operation queued while that first bootstrap was in
    // flight only ends at its timeout; once the bootstrap has failed, operations open the bucket
    // anew and fail with BucketNotFoundError.
    const c = await connect()
    const ghost = c.bucket('no_such_bucket').defaultCollection()
    await assert.rejects(ghost.get('k', { timeout: 1500 }), (err) => {
      assert.ok(
        err instanceof couchbase.BucketNotFoundError || err instanceof couchbase.UnambiguousTimeoutError,
        `got ${err.constructor.name}: ${err}`
      )
      return true
    })
    await rejectsWith(ghost.get('k', { timeout: 1500 }), couchbase.BucketNotFoundError)
    // The connection still serves the real bucket.
    const key = newKey('after-ghost')
    await c.bucket('default').defaultCollection().upsert(key, { v: 1 })
    assert.deepEqual((await coll.get(key)).content, { v: 1 })
  })

  it('many concurrent operations over several connections all succeed', T, async () => {
    const n = 2000
    const conns = [coll]
    for (let i = 0; i < 3; i++) conns.push((await connect()).bucket('default').defaultCollection())
    const keys = Array.from({ length: n }, (_, i) => `node-many-${i}`)
    const value = (i) => ({ i, pad: 'x'.repeat(i % 200) })
    await Promise.all(keys.map((k, i) => conns[i % conns.length].upsert(k, value(i))))
    // Read each document through a different connection than the one that wrote it.
    const got = await Promise.all(keys.map((k, i) => conns[(i + 1) % conns.length].get(k)))
    got.forEach((g, i) => assert.deepEqual(g.content, value(i)))
    // Mixed reads and writes in flight together.
    await Promise.all(
      keys.flatMap((k, i) => [
        conns[i % conns.length].binary().increment(`node-many-ctr-${i % 10}`, 1, { initial: 0 }),
        conns[(i + 2) % conns.length].get(k),
      ])
    )
    // 2000 increments over 10 counters, each created at 0 by its first increment.
    let total = 0
    for (let j = 0; j < 10; j++) total += (await coll.get(`node-many-ctr-${j}`)).content
    assert.equal(total, n - 10)
  })

  it('cluster.query: FROM-less SELECT, parameters and metadata', T, async () => {
    const res = await cluster.query('SELECT 1=1')
    assert.deepEqual(res.rows, [{ $1: true }])
    assert.equal(res.meta.status, 'success')
    assert.equal(typeof res.meta.requestId, 'string')
    const named = await cluster.query('SELECT $p AS param', { parameters: { p: 'x' } })
    assert.deepEqual(named.rows, [{ param: 'x' }])
    const pos = await cluster.query('SELECT $1 AS param', { parameters: [7], metrics: true })
    assert.deepEqual(pos.rows, [{ param: 7 }])
    assert.equal(pos.meta.metrics.resultCount, 1)
  })

  it('cluster.query over the bucket: USE KEYS, the primary index, DML with RETURNING', T, async () => {
    const key = newKey('query')
    await coll.upsert(key, { kind: key, n: 1 })
    const byKey = await cluster.query('SELECT d.n FROM `default` d USE KEYS $1', { parameters: [key] })
    assert.deepEqual(byKey.rows, [{ n: 1 }])
    await cluster.queryIndexes().createPrimaryIndex('default', { ignoreIfExists: true })
    const where = await cluster.query('SELECT RAW META().id FROM `default` WHERE kind = $k', {
      parameters: { k: key },
    })
    assert.deepEqual(where.rows, [key])
    const upd = await cluster.query('UPDATE `default` USE KEYS $1 SET n = n + 1 RETURNING RAW n', {
      parameters: [key],
    })
    assert.deepEqual(upd.rows, [2])
    assert.deepEqual((await coll.get(key)).content, { kind: key, n: 2 })
    // The real service's answer (12009, reason.code 17012): this core maps it to DmlFailureError
    // (the Python SDK's newer mapping gives DocumentExistsException).
    await assert.rejects(
      cluster.query('INSERT INTO `default` VALUES ($1, {})', { parameters: [key] }),
      (err) => err instanceof couchbase.DmlFailureError && err.cause.first_error_code === 12009
    )
  })

  it('cluster.query errors map to the SDK classes', T, async () => {
    await rejectsWith(cluster.query("I'm not N1QL!"), couchbase.ParsingFailureError)
    // 12003 "Keyspace not found": this core calls it BucketNotFoundError
    await assert.rejects(
      cluster.query('SELECT * FROM no_such_bucket'),
      (err) => err instanceof couchbase.BucketNotFoundError && err.cause.first_error_code === 12003 &&
        /Keyspace not found/.test(err.cause.first_error_message)
    )
    await rejectsWith(
      cluster.queryIndexes().createPrimaryIndex('default'),
      couchbase.IndexExistsError
    )
  })
})

// --- over TLS -------------------------------------------------------------------------------

// A CA, a server certificate for 127.0.0.1 and a second CA, made by the openssl command.
function makePki() {
  const { execFileSync } = require('node:child_process')
  const fs = require('node:fs')
  const os = require('node:os')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'divan-pki-'))
  const f = (name) => path.join(dir, name)
  const ssl = (...args) => execFileSync('openssl', args, { stdio: 'ignore' })
  for (const ca of ['ca', 'otherca'])
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${ca}`,
      '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`))
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=divan-server', '-keyout',
    f('server.key'), '-out', f('server.csr'))
  fs.writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-days', '1', '-extfile', f('server.ext'), '-out', f('server.pem'))
  return { dir, f }
}

describe('official Node.js SDK over TLS', () => {
  let tls, pki
  const opened = []
  const connectTls = async (query, security) => {
    const c = await couchbase.connect(`couchbases://127.0.0.1:${tls.kvs}${query}`, {
      ...ADMIN, timeouts: { ...TIMEOUTS, connectTimeout: 2000, bootstrapTimeout: 2000 },
      security,
    })
    opened.push(c)
    return c
  }

  before(async () => {
    pki = makePki()
    tls = await startServer(['--threads', '1', '--tls-cert', pki.f('server.pem'), '--tls-key',
      pki.f('server.key')])
  })

  after(async () => {
    for (const c of opened) await c.close().catch(() => {})
    if (tls) await stopServer(tls.child)
    require('node:fs').rmSync(pki.dir, { recursive: true, force: true })
  })

  it('KV, query and management with a trusted CA', T, async () => {
    const c = await connectTls('', { trustStorePath: pki.f('ca.pem') })
    const coll = c.bucket('default').defaultCollection()
    await coll.upsert('tls-doc', { over: 'tls' })
    assert.deepEqual((await coll.get('tls-doc')).content, { over: 'tls' })
    const res = await c.query("SELECT RAW d.`over` FROM `default` AS d USE KEYS 'tls-doc'")
    assert.deepEqual(res.rows, ['tls'])
    const buckets = await c.buckets().getAllBuckets()
    assert.deepEqual(buckets.map((b) => b.name), ['default'])
  })

  it('tls_verify=none connects without a trust store', T, async () => {
    const c = await connectTls('?tls_verify=none')
    const coll = c.bucket('default').defaultCollection()
    await coll.upsert('tls-nv', 1)
    assert.equal((await coll.get('tls-nv')).content, 1)
  })

  it('a CA that did not sign the server certificate fails the connection', T, async () => {
    await assert.rejects(async () => {
      const c = await connectTls('', { trustStorePath: pki.f('otherca.pem') })
      await c.bucket('default').defaultCollection().get('x')
    }, (err) => err instanceof couchbase.CouchbaseError)
  })
})
