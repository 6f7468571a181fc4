import { useApiQuery } from '../api';
import { EmptyState, QueryView } from '../components/states';
import { formatBytes, formatDate } from '../format';

export function LibraryScreen() {
  const artifacts = useApiQuery('artifacts.list', {}, ['artifacts']);
  const generations = useApiQuery('generations.list', {}, ['generations']);
  return (
    <>
      <header className="screen-header">
        <h1>Library</h1>
        <p className="muted">
          Everything LoRA Studio made for you: exported LoRAs and generated images.
        </p>
      </header>
      <section aria-labelledby="artifacts-heading">
        <h2 id="artifacts-heading">Exported LoRAs</h2>
        <QueryView query={artifacts} what="exported LoRAs">
          {(items) =>
            items.length === 0 ? (
              <EmptyState title="No exported LoRAs yet" testId="artifacts-empty">
                When a training run finishes (or saves a checkpoint), its LoRA is exported as a
                <code> .safetensors</code> file that A1111/Forge, ComfyUI and Civitai load, and it
                is listed here.
              </EmptyState>
            ) : (
              <table className="table" data-testid="artifacts-table">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col" className="num">
                      Size
                    </th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((artifact) => (
                    <tr key={artifact.id}>
                      <td>
                        <div className="strong">{artifact.name}</div>
                        <div className="muted small mono">{artifact.path}</div>
                      </td>
                      <td className="num">{formatBytes(artifact.sizeBytes)}</td>
                      <td>{formatDate(artifact.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </QueryView>
      </section>
      <section aria-labelledby="generations-heading">
        <h2 id="generations-heading">Generated images</h2>
        <QueryView query={generations} what="generated images">
          {({ items, total }) =>
            items.length === 0 ? (
              <EmptyState title="No generated images yet" testId="generations-empty">
                Images you generate are saved as PNGs with their prompt and settings embedded, and
                collected here.
              </EmptyState>
            ) : (
              <table className="table" data-testid="generations-table">
                <caption className="muted small">
                  {items.length} of {total} images
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Prompt</th>
                    <th scope="col">Size</th>
                    <th scope="col" className="num">
                      Seed
                    </th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((generation) => (
                    <tr key={generation.id}>
                      <td>
                        <div>{generation.params.prompt}</div>
                        <div className="muted small mono">{generation.filePath}</div>
                      </td>
                      <td>
                        {generation.params.width}×{generation.params.height}
                      </td>
                      <td className="num">{generation.seed}</td>
                      <td>{formatDate(generation.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </QueryView>
      </section>
    </>
  );
}
