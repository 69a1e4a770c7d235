// Scanning an invitation's QR code with the phone's camera, in the page, where the browser can:
// the Shape Detection API's BarcodeDetector reading QR codes, a camera (getUserMedia) and a page
// the camera is allowed on (Permissions-Policy). Elsewhere (desktop Linux Chromium, Firefox) the
// code is typed, and no scan button is offered.

interface DetectedBarcode {
  rawValue: string
}
interface BarcodeDetectorInstance {
  detect(source: CanvasImageSource): Promise<DetectedBarcode[]>
}
interface BarcodeDetectorClass {
  new (options: { formats: string[] }): BarcodeDetectorInstance
  getSupportedFormats(): Promise<string[]>
}

/** An invitation code in what a QR code holds (the code itself, perhaps in a longer text). */
const CODE = /[2-9A-Z]{4}[- ]?[2-9A-Z]{4}[- ]?[2-9A-Z]{4}/i

function detectorClass(): BarcodeDetectorClass | null {
  return "BarcodeDetector" in window ? (window as unknown as { BarcodeDetector: BarcodeDetectorClass }).BarcodeDetector : null
}

/** Whether this browser, on this page, can read a QR code from the camera. */
export async function canScan(): Promise<boolean> {
  const Detector = detectorClass()
  if (!Detector || typeof navigator.mediaDevices?.getUserMedia !== "function") return false
  // A page whose Permissions-Policy forbids the camera would only meet a refusal.
  const policy = (document as { featurePolicy?: { allowsFeature(feature: string): boolean } }).featurePolicy
  if (policy && !policy.allowsFeature("camera")) return false
  try {
    return (await Detector.getSupportedFormats()).includes("qr_code")
  } catch {
    return false
  }
}

/** A running scan: the camera's picture in `video`, read until a code shows or `stop()`. */
export interface Scan {
  stop(): void
}

/**
 * Show the camera in `video` and look for an invitation code in it; `found` gets the first one.
 * Rejects when the camera cannot be used (refused, absent, busy).
 */
export async function scanCode(video: HTMLVideoElement, found: (code: string) => void): Promise<Scan> {
  const Detector = detectorClass()
  if (!Detector) throw new Error("no BarcodeDetector")
  const detector = new Detector({ formats: ["qr_code"] })
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false })
  let running = true
  let timer = 0
  const stop = () => {
    running = false
    window.clearTimeout(timer)
    for (const track of stream.getTracks()) track.stop()
    video.srcObject = null
  }
  video.srcObject = stream
  video.muted = true
  video.setAttribute("playsinline", "")
  await video.play().catch(() => undefined)
  const look = async () => {
    if (!running) return
    try {
      if (video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) {
        for (const barcode of await detector.detect(video)) {
          const code = CODE.exec(barcode.rawValue)?.[0]
          if (code && running) {
            stop()
            found(code.toUpperCase())
            return
          }
        }
      }
    } catch {
      // a frame that could not be read: try the next
    }
    if (running) timer = window.setTimeout(() => void look(), 200)
  }
  void look()
  return { stop }
}
