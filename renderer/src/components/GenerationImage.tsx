// A generated image. In serve mode the browser loads it from the server's file route (the
// session cookie authorises it); over Electron IPC there is no URL to load, so the PNG comes
// as base64 through generations.get.

import { useEffect, useState } from 'react';
import type { Generation } from '../../../core/api';
import { useTransport } from '../api';

export function generationFileUrl(id: number): string {
  return `/files/generations/${id}.png`;
}

export function GenerationImage(props: { generation: Generation; className?: string }) {
  const transport = useTransport();
  const { generation } = props;
  const [src, setSrc] = useState<string | null>(
    transport.kind === 'http' ? generationFileUrl(generation.id) : null,
  );
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    if (transport.kind === 'http') {
      setSrc(generationFileUrl(generation.id));
      return;
    }
    let cancelled = false;
    transport.call('generations.get', { id: generation.id, withImage: true }).then(
      (g) => !cancelled && setSrc(`data:image/png;base64,${g.image ?? ''}`),
      () => !cancelled && setFailed(true),
    );
    return () => {
      cancelled = true;
    };
  }, [transport, generation.id]);

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
      src={src}
      alt={generation.params.prompt || 'Generated image'}
      width={generation.params.width}
      height={generation.params.height}
      onError={() => setFailed(true)}
      data-testid="generation-image"
    />
  );
}
