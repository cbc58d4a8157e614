/**
 * One attachment of a message: pictures are fetched, checked and decrypted at once and shown; other files (and
 * large pictures) wait for a click. Either can be saved; the saved bytes are exactly what the sender attached.
 */
import { useEffect, useState } from 'react';
import { ClientError, ClientErrorCode } from '@samizdat/client';
import type { AttachmentPointer, Client } from '@samizdat/client';
import { AUTO_DOWNLOAD_BYTES, downloadAttachment, fileNameOf, formatBytes, isPreviewable, saveAttachment } from '../state/attachments.js';
import type { DecryptedAttachment } from '../state/attachments.js';
import { describeError } from '../state/messenger.js';
import { Icon } from './icons.js';

export function AttachmentView({ client, pointer, online }: { client: Client; pointer: AttachmentPointer; online: boolean }) {
  const [decrypted, setDecrypted] = useState<DecryptedAttachment>();
  const [progress, setProgress] = useState<{ received: number; total: number }>();
  const [error, setError] = useState<string>();
  const name = fileNameOf(pointer);
  const picture = isPreviewable(pointer);

  const fetchIt = async (): Promise<DecryptedAttachment | undefined> => {
    setError(undefined);
    try {
      const result = await downloadAttachment(client, pointer, (received, total) => setProgress({ received, total }));
      setDecrypted(result);
      return result;
    } catch (err) {
      setError(
        ClientError.is(err, ClientErrorCode.ServerUnreachable)
          ? 'Not available offline: it is fetched when the connection returns.'
          : ClientError.is(err, ClientErrorCode.AttachmentCorrupted)
            ? 'This file was altered or damaged on the way; it is not shown.'
            : describeError(err),
      );
      return undefined;
    } finally {
      setProgress(undefined);
    }
  };

  // Pictures are fetched as soon as they are shown, and again when the connection returns after a failure.
  const auto = picture && pointer.size <= AUTO_DOWNLOAD_BYTES;
  useEffect(() => {
    if (auto && !decrypted && (online || error === undefined)) void fetchIt();
    // fetchIt only closes over state setters and the pointer.
  }, [pointer.id, auto, online]);

  const save = async () => {
    const result = decrypted ?? (await fetchIt());
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
