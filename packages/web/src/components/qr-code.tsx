/**
 * A QR code drawn as SVG from the `qrcode` package's module matrix: no canvas, no data: URL, no inline markup, so
 * it needs nothing from the Content Security Policy.
 */
import { useMemo } from 'react';
import QRCode from 'qrcode';

/** Quiet zone around the code, in modules (ISO/IEC 18004 asks for 4). */
const MARGIN = 4;

export function QrCode({ text, label, size = 224 }: { text: string; label: string; size?: number }) {
  const { path, dimension } = useMemo(() => {
    const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
    let d = '';
    for (let row = 0; row < modules.size; row++) {
      for (let col = 0; col < modules.size; col++) {
        if (modules.get(row, col)) d += `M${col + MARGIN} ${row + MARGIN}h1v1h-1z`;
      }
    }
    return { path: d, dimension: modules.size + 2 * MARGIN };
  }, [text]);
  return (
    <svg className="qr" role="img" aria-label={label} width={size} height={size} viewBox={`0 0 ${dimension} ${dimension}`} shapeRendering="crispEdges">
      <rect width={dimension} height={dimension} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}
