/**
 * Reads a QR code with the camera where the browser has a built-in barcode detector (BarcodeDetector: Chrome on
 * Android and macOS, for instance). Elsewhere the button is not shown and the code is typed or pasted: no QR
 * decoder is bundled. The picture never leaves the page.
 */
import { useEffect, useRef, useState } from 'react';

interface DetectedBarcode {
  readonly rawValue: string;
}
interface BarcodeDetectorLike {
  detect(source: HTMLVideoElement): Promise<DetectedBarcode[]>;
}
type BarcodeDetectorClass = new (options: { formats: string[] }) => BarcodeDetectorLike;

function detectorClass(): BarcodeDetectorClass | undefined {
  const candidate = (globalThis as { BarcodeDetector?: BarcodeDetectorClass }).BarcodeDetector;
  return typeof candidate === 'function' && typeof navigator.mediaDevices?.getUserMedia === 'function' ? candidate : undefined;
}

export function canScan(): boolean {
  return detectorClass() !== undefined;
}

export function CodeScanner({ onCode, onClose }: { onCode: (code: string) => void; onClose: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string>();
  useEffect(() => {
    const Detector = detectorClass();
    if (!Detector) return;
    let stream: MediaStream | undefined;
    let timer: ReturnType<typeof setInterval> | undefined;
    let stopped = false;
    void (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
        if (stopped || !video.current) return;
        video.current.srcObject = stream;
        await video.current.play();
        const detector = new Detector({ formats: ['qr_code'] });
        timer = setInterval(() => {
          if (!video.current) return;
          void detector
            .detect(video.current)
            .then((codes) => {
              const value = codes[0]?.rawValue;
              if (value && !stopped) {
                stopped = true;
                onCode(value);
              }
            })
            .catch(() => undefined);
        }, 300);
      } catch {
        setError('The camera is not available. Type or paste the code instead.');
      }
    })();
    return () => {
      stopped = true;
      if (timer) clearInterval(timer);
      for (const track of stream?.getTracks() ?? []) track.stop();
    };
  }, [onCode]);
  return (
    <div className="scanner">
      {error ? <p role="alert">{error}</p> : <video ref={video} muted playsInline aria-label="Camera view for scanning a QR code" />}
      <button type="button" onClick={onClose}>
        Stop scanning
      </button>
    </div>
  );
}
