/**
 * A round avatar: a contact's profile picture when their encrypted profile has one (state/avatars.ts), else the
 * first letter of their name; a group's icon for a group. With `label`, the picture is announced ("Profile picture
 * of NAME"); without, it is decoration beside a name that is already read out.
 */
import { useMessenger, type Messenger } from '../state/messenger.js';
import { useAvatar } from '../state/avatars.js';
import { Icon } from './icons.js';

export function Avatar({
  messenger,
  accountId,
  name,
  group = false,
  label = false,
  large = false,
}: {
  messenger: Messenger;
  accountId: string;
  name: string;
  group?: boolean;
  label?: boolean;
  large?: boolean;
}) {
  const snapshot = useMessenger(messenger);
  const hash = group ? undefined : snapshot.contacts.get(accountId)?.avatarHash;
  const url = useAvatar(messenger, accountId, hash);
  const className = `avatar${group ? ' group' : ''}${large ? ' large' : ''}${url ? ' picture' : ''}`;
  if (url) {
    return (
      <span className={className} aria-hidden={label ? undefined : 'true'}>
        <img src={url} alt={label ? `Profile picture of ${name}` : ''} />
      </span>
    );
  }
  return (
    <span className={className} aria-hidden="true">
      {group ? <Icon name="group" size={large ? 28 : 22} /> : name.slice(0, 1).toUpperCase()}
    </span>
  );
}
