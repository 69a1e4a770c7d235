// A phone's slow line between the browser and Cairn, as a TCP proxy on 127.0.0.1: one link each
// way shared by every connection (the page, its service worker and the browser's own fetches all
// share the same 400 kbit/s, taking turns segment by segment as TCP flows roughly do), half the
// round trip added each way, and a round trip before a new connection carries data (TCP's
// handshake). It can also drop off the network entirely. DevTools' network emulation cannot do
// this alone: in Chromium 156 it does not reach what a service worker fetches (its install
// downloaded 0.8 MB "at 400 kbit/s" in under 3 s).
import net from "node:net"

/** What the link sends in one turn (a TCP segment's payload). */
const SEGMENT = 1460

/** One direction of the line: flows take turns sending a segment each. */
class Link {
  constructor() {
    this.bytesPerSecond = 0
    this.delayMs = 0
    this.bytes = 0
    /** Flows with data waiting, in turn order. */
    this.waiting = []
    this.busy = false
  }

  /** Queue `data` of `flow` (`{ pending: Buffer[], to: Socket }`). */
  send(flow, data) {
    this.bytes += data.length
    for (let i = 0; i < data.length; i += SEGMENT) flow.pending.push(data.subarray(i, i + SEGMENT))
    if (!this.waiting.includes(flow)) this.waiting.push(flow)
    if (!this.busy) this.turn()
  }

  turn() {
    const flow = this.waiting.shift()
    if (!flow) {
      this.busy = false
      return
    }
    const segment = flow.pending.shift()
    if (flow.pending.length) this.waiting.push(flow)
    const airtime = this.bytesPerSecond ? (segment.length / this.bytesPerSecond) * 1000 : 0
    flow.deliver(segment, airtime + this.delayMs)
    this.busy = true
    if (airtime) setTimeout(() => this.turn(), airtime)
    else this.turn()
  }
}

/** `from`'s bytes to `to` over `link`, in order; `to` ends once everything has arrived. */
function flow(from, to, link, line) {
  // Segments in the air, oldest first, each with the time it lands. They land in this order
  // whatever the timers' rounding: one timer per flow delivers every segment that is due.
  const inAir = []
  let timer = null
  let ended = false
  const land = () => {
    timer = null
    while (inAir.length && inAir[0].at <= performance.now()) {
      const { segment } = inAir.shift()
      if (!to.destroyed) to.write(segment)
    }
    if (inAir.length) timer = setTimeout(land, Math.max(0, inAir[0].at - performance.now()))
    else if (ended && state.pending.length === 0) to.end()
  }
  const state = {
    pending: [],
    deliver(segment, afterMs) {
      inAir.push({ segment, at: performance.now() + afterMs })
      if (!timer) timer = setTimeout(land, afterMs)
    },
  }
  from.on("data", data => {
    if (!line.offline) link.send(state, data)
  })
  from.on("end", () => {
    ended = true
    if (!timer && inAir.length === 0 && state.pending.length === 0) to.end()
  })
}

/**
 * Start the line in front of `target` (`{ host, port }`). Returns its base URL, `set({ kbits,
 * rttMs })` to change it (`kbits: 0` is no limit), `offline(bool)`, `bytes()` (what crossed it
 * each way since `resetBytes()`) and `close()`.
 */
export async function startSlowLine(target, { kbits = 400, rttMs = 400 } = {}) {
  const line = { up: new Link(), down: new Link(), rttMs: 0, offline: false }
  const set = ({ kbits, rttMs }) => {
    for (const link of [line.up, line.down]) {
      link.bytesPerSecond = kbits ? (kbits * 1000) / 8 : 0
      link.delayMs = rttMs / 2
    }
    line.rttMs = rttMs
  }
  set({ kbits, rttMs })
  const sockets = new Set()

  const server = net.createServer(client => {
    if (line.offline) return client.destroy()
    sockets.add(client)
    client.pause()
    const connect = () => {
      const upstream = net.connect(target.port, target.host)
      sockets.add(upstream)
      // A reset drops both ends; a clean close reaches the other end once its data has (the
      // flow ends it).
      const reset = () => {
        client.destroy()
        upstream.destroy()
      }
      for (const socket of [client, upstream]) {
        socket.on("error", reset)
        socket.on("close", () => sockets.delete(socket))
      }
      flow(client, upstream, line.up, line)
      flow(upstream, client, line.down, line)
      upstream.on("connect", () => client.resume())
    }
    // The handshake: a round trip before the first byte can leave.
    if (line.rttMs) setTimeout(connect, line.rttMs)
    else connect()
  })
  await new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", resolve)
  })
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}`,
    set,
    /** Off the network: every connection dropped, new ones refused. */
    offline(off) {
      line.offline = off
      if (!off) return
      for (const socket of sockets) socket.destroy()
      for (const link of [line.up, line.down]) link.waiting = []
    },
    bytes: () => ({ up: line.up.bytes, down: line.down.bytes }),
    resetBytes() {
      line.up.bytes = 0
      line.down.bytes = 0
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise(resolve => server.close(() => resolve()))
    },
  }
}
