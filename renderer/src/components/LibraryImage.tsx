// A library image: a saved grid (sheet or cell) or a training run's sample. In serve mode a
// grid loads from the server's file route; otherwise (Electron IPC, run samples) the PNG comes
// as base64 through library.image.

import { useEffect, useState, type CSSProperties } from 'react';
import type { ApiInput } from '../../../core/api';
import { useTransport } from '../api';

export type LibraryImageSource = ApiInput<'library.image'>;

export function gridFileUrl(gridId: string, cell?: number): string {
  return cell === undefined ? `/files/grids/${gridId}.png` : `/files/grids/${gridId}/${cell}.png`;
}

export function LibraryImage(props: {
  source: LibraryImageSource;
  alt: string;
  className?: string;
  style?: CSSProperties;
  testId?: string;
}) {
  const transport = useTransport();
  const { source } = props;
  const key = JSON.stringify(source);
  const fileUrl =
    transport.kind === 'http' && 'gridId' in source
      ? gridFileUrl(source.gridId, source.cell)
      : null;
  const [src, setSrc] = useState<string | null>(fileUrl);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    setFailed(false);
    if (fileUrl) {
      setSrc(fileUrl);
      return;
    }
    setSrc(null);
    let cancelled = false;
    transport.call('library.image', JSON.parse(key) as LibraryImageSource).then(
      (img) => !cancelled && setSrc(`data:${img.mime};base64,${img.data}`),
      () => !cancelled && setFailed(true),
    );
    return () => {
      cancelled = true;
    };
  }, [transport, key, fileUrl]);

  if (failed) {
    return (
      <div className="image-missing muted small" role="img" aria-label="Image file missing">
        Image file missing
      </div>
    );
  }
  if (!src) return <div className="image-loading" aria-busy="true" />;
  return (
    <img
      className={props.className}
      style={props.style}
      src={src}
      alt={props.alt}
      onError={() => setFailed(true)}
      data-testid={props.testId}
    />
  );
}
