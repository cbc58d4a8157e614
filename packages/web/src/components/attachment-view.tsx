/**
 * One attachment of a message: pictures are fetched, checked and decrypted at once and shown; other files (and
 * large pictures) wait for a click. Either can be saved; the saved bytes are exactly what the sender attached.
 */
import type { AttachmentPointer } from '@samizdat/client';
import { fileNameOf, formatBytes, isPreviewable, saveAttachment, useAttachment } from '../state/attachments.js';
import type { Messenger } from '../state/messenger.js';
import { Icon } from './icons.js';

export function AttachmentView({ messenger, pointer, online }: { messenger: Messenger; pointer: AttachmentPointer; online: boolean }) {
  const { decrypted, progress, error, fetch } = useAttachment(messenger, pointer, online);
  const name = fileNameOf(pointer);
  const picture = isPreviewable(pointer);

  const save = async () => {
    const result = decrypted ?? (await fetch());
    if (result) saveAttachment(result, name);
  };

  return (
    <figure className={`attachment${picture ? ' picture' : ''}`} data-attachment-id={pointer.id}>
      {picture && decrypted?.previewUrl ? (
        <img src={decrypted.previewUrl} alt={pointer.fileName ? `Picture: ${pointer.fileName}` : 'Picture'} loading="lazy" />
      ) : (
        <span className="file-icon">
          <Icon name="file" size={32} />
        </span>
      )}
      <figcaption>
        <span className="file-name">{name}</span> <span className="file-size">{formatBytes(pointer.size)}</span>
        {progress && (
          <progress value={progress.received} max={progress.total || 1} aria-label={`Downloading ${name}`}>
            {Math.round((progress.received / (progress.total || 1)) * 100)}%
          </progress>
        )}
        <button type="button" className="link-button" onClick={() => void save()} aria-label={`Download ${name}`}>
          Download
        </button>
        {error && (
          <span className="error" role="alert">
            {error}
          </span>
        )}
      </figcaption>
    </figure>
  );
}
